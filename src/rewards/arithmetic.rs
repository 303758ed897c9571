//! A process reward for worked arithmetic: every equation the completion writes
//! ("2 x 19.5 = 39", "141 = 7 x 20 + 1") is evaluated and checked. A small model's reasoning is
//! mostly fluent and wrongly computed; this scores each step where the answer check only sees
//! the end, so a group whose answers are all wrong still tells right steps from wrong ones.
//!
//! What it cannot be paid for: an equation counts only when it computes with a number of the
//! question or of an earlier counted equation (so "1 + 1 = 2" added to a completion earns
//! nothing), and only when it has an operator ("14.4 = 28.8" states, it does not compute).

/// One lexical piece of a completion, as far as equations go.
#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Number(f64, usize),
    Op(char),
    Equals,
    /// Anything else: a word, a unit, punctuation. It ends an equation.
    Other,
}

fn pieces(text: &str) -> Vec<Piece> {
    let chars: Vec<char> = text.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let digit = |i: usize| at(i).is_some_and(|c| c.is_ascii_digit());
    let mut out = vec![];
    let mut i = 0;
    while let Some(c) = at(i) {
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let mut text = String::new();
            while digit(i) || (at(i) == Some(',') && (1..=3).all(|k| digit(i + k)) && !digit(i + 4))
            {
                if at(i) != Some(',') {
                    text.push(chars[i]);
                }
                i += 1;
            }
            let mut decimals = 0;
            if at(i) == Some('.') && digit(i + 1) {
                text.push('.');
                i += 1;
                while digit(i) {
                    text.push(chars[i]);
                    i += 1;
                    decimals += 1;
                }
            }
            // A number glued to letters ("3rd") is a word.
            match (
                text.parse::<f64>(),
                at(i).is_some_and(|c| c.is_alphabetic()),
            ) {
                (Ok(v), false) => out.push(Piece::Number(v, decimals)),
                _ => out.push(Piece::Other),
            }
        } else if let Some(op) = operator(c) {
            out.push(Piece::Op(op));
            i += 1;
        } else if c == 'x' && !letter_or_digit(at(i + 1)) && (i == 0 || !letter_or_digit(at(i - 1)))
        {
            out.push(Piece::Op('x'));
            i += 1;
        } else if c == '=' {
            out.push(Piece::Equals);
            i += 1;
        } else {
            // A word, a unit or punctuation, up to the next space, digit, operator or `=`.
            i += 1;
            while at(i).is_some_and(|c| {
                !c.is_whitespace() && !c.is_ascii_digit() && operator(c).is_none() && c != '='
            }) {
                i += 1;
            }
            out.push(Piece::Other);
        }
    }
    out
}

/// The operator a character writes, in one spelling each.
fn operator(c: char) -> Option<char> {
    match c {
        '+' => Some('+'),
        '-' | '−' => Some('-'),
        '*' | '×' => Some('x'),
        '/' | '÷' => Some('/'),
        _ => None,
    }
}

fn letter_or_digit(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric())
}

/// One side of an equation: numbers joined by operators (a leading minus allowed).
#[derive(Clone, Debug, PartialEq)]
struct Side {
    numbers: Vec<(f64, usize)>,
    ops: Vec<char>,
}

impl Side {
    /// Multiplication and division before addition and subtraction, left to right.
    fn value(&self) -> Option<f64> {
        let mut terms: Vec<f64> = vec![self.numbers[0].0];
        let mut signs: Vec<f64> = vec![1.0];
        for (op, &(n, _)) in self.ops.iter().zip(&self.numbers[1..]) {
            match op {
                'x' => *terms.last_mut()? *= n,
                '/' if n == 0.0 => return None,
                '/' => *terms.last_mut()? /= n,
                '+' => {
                    terms.push(n);
                    signs.push(1.0);
                }
                _ => {
                    terms.push(n);
                    signs.push(-1.0);
                }
            }
        }
        Some(terms.iter().zip(&signs).map(|(t, s)| t * s).sum())
    }

    /// How far a written result may be from the exact one: half its last written decimal
    /// ("10 / 3 = 3.33" holds); a whole number or an expression must be exact.
    fn tolerance(&self) -> f64 {
        match (self.ops.is_empty(), self.numbers[0].1) {
            (true, d) if d > 0 => 0.5 * 10f64.powi(-(d as i32)),
            _ => 0.0,
        }
    }
}

/// An equation as written: two or more sides joined by `=`.
#[derive(Clone, Debug, PartialEq)]
struct Equation {
    sides: Vec<Side>,
}

impl Equation {
    fn has_operator(&self) -> bool {
        self.sides.iter().any(|s| !s.ops.is_empty())
    }

    /// Every side equal to the first, each within the precision it is written to.
    fn holds(&self) -> bool {
        let Some(first) = self.sides[0].value() else {
            return false;
        };
        let rounding = 1e-9 * first.abs().max(1.0);
        self.sides[1..].iter().all(|s| match s.value() {
            Some(v) => (v - first).abs() <= s.tolerance().max(self.sides[0].tolerance()) + rounding,
            None => false,
        })
    }

    fn numbers(&self) -> impl Iterator<Item = f64> + '_ {
        self.sides
            .iter()
            .flat_map(|s| s.numbers.iter().map(|n| n.0))
    }

    /// The numbers it computes with: those of its sides that have an operator.
    fn operands(&self) -> impl Iterator<Item = f64> + '_ {
        self.sides
            .iter()
            .filter(|s| !s.ops.is_empty())
            .flat_map(|s| s.numbers.iter().map(|n| n.0))
    }
}

/// The equations in `text`, in order.
fn equations(text: &str) -> Vec<Equation> {
    let p = pieces(text);
    let mut found = vec![];
    let mut i = 0;
    while i < p.len() {
        let mut sides = vec![];
        let mut j = i;
        while let Some((side, next)) = side_at(&p, j) {
            sides.push(side);
            if p.get(next) == Some(&Piece::Equals) {
                j = next + 1;
            } else {
                j = next;
                break;
            }
        }
        if sides.len() >= 2 {
            found.push(Equation { sides });
            i = j;
        } else {
            i += 1;
        }
    }
    found
}

/// The side starting at `at`, and where it ends.
fn side_at(p: &[Piece], at: usize) -> Option<(Side, usize)> {
    let mut i = at;
    let negative = p.get(i) == Some(&Piece::Op('-'));
    if negative {
        i += 1;
    }
    let Some(Piece::Number(first, d)) = p.get(i) else {
        return None;
    };
    let mut side = Side {
        numbers: vec![(if negative { -first } else { *first }, *d)],
        ops: vec![],
    };
    i += 1;
    while let (Some(Piece::Op(op)), Some(Piece::Number(n, d))) = (p.get(i), p.get(i + 1)) {
        side.ops.push(*op);
        side.numbers.push((*n, *d));
        i += 2;
    }
    Some((side, i))
}

/// The numbers a text mentions.
fn numbers_in(text: &str) -> Vec<f64> {
    pieces(text)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Number(v, _) => Some(v),
            _ => None,
        })
        .collect()
}

/// (right − wrong) / counted over the completion's counted equations, in [−1, 1]; 0 when it
/// computes nothing that counts.
pub fn arithmetic_consistency(question: &str, completion: &str) -> f64 {
    let mut known = numbers_in(question);
    let (mut right, mut wrong) = (0usize, 0usize);
    for eq in equations(completion) {
        let grounded = eq.operands().any(|n| known.contains(&n));
        if !eq.has_operator() || !grounded {
            continue;
        }
        if eq.holds() {
            right += 1;
        } else {
            wrong += 1;
        }
        known.extend(eq.numbers());
    }
    match right + wrong {
        0 => 0.0,
        n => (right as f64 - wrong as f64) / n as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(text: &str) -> Vec<bool> {
        equations(text).iter().map(|e| e.holds()).collect()
    }

    #[test]
    fn equations_are_read_with_precedence_and_written_precision() {
        assert_eq!(holds("2 batteries cost 2 x 19.5 = 39 dollars."), [true]);
        assert_eq!(holds("2 x 19.5 = 49"), [false]);
        assert_eq!(holds("141 = 7 x 20 + 1, so 20 weeks"), [true]);
        assert_eq!(
            holds("1660 x 20 / 100 = 332. Then 1660 + 332 = 1992."),
            [true, true]
        );
        assert_eq!(holds("Multiply by 5/9: 117 x 5 / 9 = 65 degrees"), [true]);
        assert_eq!(
            holds("10 / 3 = 3.33 and 10 / 3 = 3.3 and 10 / 3 = 3.4"),
            [true, true, false]
        );
        assert_eq!(holds("49 - 50 = -1, not 49 - 50 = 15"), [true, false]);
        assert_eq!(holds("3 × 4 = 12 and 12 ÷ 4 = 3"), [true, true]);
        assert_eq!(holds("5 / 0 = 0"), [false]);
        // Words end an equation: "July 29 to the end" is no equation, "31 - 29 = 2" is.
        assert_eq!(
            holds("from July 29 to the end of July is 31 - 29 = 2 days"),
            [true]
        );
        // "x" as a letter inside a word is not a times sign.
        assert!(equations("the box 3 xylophones = 4").is_empty());
    }

    #[test]
    fn right_steps_score_one_wrong_ones_minus_one_and_ungrounded_ones_nothing() {
        let q = "Tom buys 2 batteries at 19.5 dollars each and pays with 50 dollars. What change?";
        let right =
            "<reasoning>2 x 19.5 = 39. The change is 50 - 39 = 11.</reasoning><answer>11</answer>";
        let wrong =
            "<reasoning>2 x 19.5 = 49. The change is 50 - 49 = 1.</reasoning><answer>1</answer>";
        let half =
            "<reasoning>2 x 19.5 = 39. The change is 50 - 39 = 12.</reasoning><answer>12</answer>";
        assert_eq!(arithmetic_consistency(q, right), 1.0);
        // The second step is right given the first: each step is checked on its own.
        assert_eq!(arithmetic_consistency(q, wrong), 0.0);
        assert_eq!(arithmetic_consistency(q, half), 0.0);
        assert_eq!(
            arithmetic_consistency(q, "<reasoning>2 x 19.5 = 40 and 50 - 40 = 9</reasoning>"),
            -1.0
        );
        // Adversarial: padding with true equations unrelated to the question earns nothing.
        let padded =
            "<reasoning>1 + 1 = 2. 3 x 3 = 9. 2 x 19.5 = 49.</reasoning><answer>1</answer>";
        assert_eq!(arithmetic_consistency(q, padded), -1.0);
        // No computation, or an echo of the question: nothing to score.
        assert_eq!(arithmetic_consistency(q, "<answer>11</answer>"), 0.0);
        assert_eq!(arithmetic_consistency(q, q), 0.0);
        // Restating a number is not computing it.
        assert_eq!(arithmetic_consistency(q, "2 = 2 and 19.5 = 19.5"), 0.0);
    }
}
