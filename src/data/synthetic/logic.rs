//! Logic: orderings from pairwise comparisons (answer: a name), syllogisms over made-up words
//! (answer: `yes`/`no`) and truth values of propositions (answer: `true`/`false`). `steps` is
//! the number of comparisons chained, premises combined, or operators evaluated.

use super::{and_list, pick, range, sample, Kind, Problem, PEOPLE};
use crate::rng::Lcg;

pub(super) const KINDS: &[Kind] = &[
    Kind {
        id: "logic.order",
        domain: "logic",
        train: &[
            "{facts} Who is the {which}?",
            "{facts} Which of them is the {which}? Answer with a name.",
            "Here is what we know: {facts} Name the {which} person.",
        ],
        eval: &[
            "Read the clues and find the {which} one. {facts}",
            "Consider the following. {facts} Out of everyone mentioned, who is the {which}?",
        ],
        make: order,
    },
    Kind {
        id: "logic.syllogism",
        domain: "logic",
        train: &[
            "{premises} Does it follow that {conclusion}? Answer yes or no.",
            "Assume these statements are true: {premises} Must it be true that {conclusion}? Answer yes or no.",
            "{premises} Based only on these statements, is it certain that {conclusion}? Reply yes or no.",
        ],
        eval: &[
            "Premises: {premises} Question: can we conclude that {conclusion}? Say yes or no.",
            "Suppose the following. {premises} Is it logically guaranteed that {conclusion}? Give yes or no.",
        ],
        make: syllogism,
    },
    Kind {
        id: "logic.chain",
        domain: "logic",
        train: &[
            "Three statements are true. {premises} Does it follow that {conclusion}? Answer yes or no.",
            "{premises} From these three facts alone, must it be that {conclusion}? Answer yes or no.",
            "Take these as given: {premises} Is it necessarily true that {conclusion}? Reply yes or no.",
        ],
        eval: &[
            "Facts: {premises} Can you deduce with certainty that {conclusion}? Say yes or no.",
            "Accept every one of these claims. {premises} Is the claim that {conclusion} forced by them? Give yes or no.",
        ],
        make: chain,
    },
    Kind {
        id: "logic.truth",
        domain: "logic",
        train: &[
            "Suppose {values}. Is the statement '{expr}' true or false?",
            "In a world where {values}, what is the truth value of '{expr}'? Answer true or false.",
            "Given that {values}, evaluate '{expr}' as true or false.",
        ],
        eval: &[
            "If {values}, does '{expr}' come out true or false?",
            "Assign the truth values: {values}. Then decide whether '{expr}' holds (true or false).",
        ],
        make: truth,
    },
];

/// (more, less, most, least) for one attribute.
const ATTRIBUTES: &[(&str, &str, &str, &str)] = &[
    ("taller", "shorter", "tallest", "shortest"),
    ("older", "younger", "oldest", "youngest"),
    ("faster", "slower", "fastest", "slowest"),
    ("heavier", "lighter", "heaviest", "lightest"),
];

fn order(rng: &mut Lcg) -> Problem {
    let (more, less, most, least) = pick(rng, ATTRIBUTES);
    let n = range(rng, 3, 5) as usize;
    // `people` runs from the most to the least; each fact links two neighbours.
    let people = sample(rng, PEOPLE, n);
    let mut facts: Vec<String> = people
        .windows(2)
        .map(|w| {
            if rng.below(2) == 0 {
                format!("{} is {more} than {}.", w[0], w[1])
            } else {
                format!("{} is {less} than {}.", w[1], w[0])
            }
        })
        .collect();
    let mut shuffled: Vec<usize> = (0..facts.len()).collect();
    rng.shuffle(&mut shuffled);
    facts = shuffled.iter().map(|&i| facts[i].clone()).collect();
    let ask_most = rng.below(2) == 0;
    let (which, answer) = if ask_most {
        (most, people[0])
    } else {
        (least, people[n - 1])
    };
    let chain: Vec<String> = people
        .windows(2)
        .map(|w| format!("{} is {more} than {}", w[0], w[1]))
        .collect();
    Problem::new(
        (n - 1) as u32,
        answer,
        format!(
            "Linking the facts into a chain: {}. So from {most} to {least} the order is {}, \
             and the {which} is {answer}.",
            and_list(&chain),
            and_list(&people),
        ),
    )
    .slot("facts", facts.join(" "))
    .slot("which", which)
}

#[derive(Clone, Copy)]
enum Quant {
    All,
    No,
    Some,
}

/// A categorical statement `quant X are Y` over term indices.
type Statement = (Quant, usize, usize);

/// A fixed argument form over terms A, B, C (and D): premises, conclusion, whether it is
/// valid, and the explanation with `{A}`.. for the terms.
struct Form {
    premises: &'static [Statement],
    conclusion: Statement,
    valid: bool,
    why: &'static str,
}

use Quant::{All, No, Some as Some_};

const SYLLOGISMS: &[Form] = &[
    Form {
        premises: &[(All, 0, 1), (All, 1, 2)],
        conclusion: (All, 0, 2),
        valid: true,
        why: "Every one of the {A} is among the {B}, and every one of the {B} is among the {C}, so every one of the {A} is among the {C}. It follows, so the answer is yes.",
    },
    Form {
        premises: &[(All, 0, 1), (All, 2, 1)],
        conclusion: (All, 0, 2),
        valid: false,
        why: "The {A} and the {C} both lie inside the {B}, but they could be different parts of the {B}, so the {A} need not be {C}. It does not follow, so the answer is no.",
    },
    Form {
        premises: &[(All, 1, 0), (All, 1, 2)],
        conclusion: (All, 0, 2),
        valid: false,
        why: "The premises only describe the {B}: they are {A} and also {C}. Any {A} that are not {B} could be anything, so not every one of the {A} must be {C}. It does not follow, so the answer is no.",
    },
    Form {
        premises: &[(All, 0, 1), (No, 1, 2)],
        conclusion: (No, 0, 2),
        valid: true,
        why: "Every one of the {A} is among the {B}, and none of the {B} is among the {C}, so none of the {A} can be among the {C}. It follows, so the answer is yes.",
    },
    Form {
        premises: &[(No, 0, 1), (All, 2, 1)],
        conclusion: (No, 0, 2),
        valid: true,
        why: "Every one of the {C} is among the {B}, and none of the {A} is among the {B}, so none of the {A} can be among the {C}. It follows, so the answer is yes.",
    },
    Form {
        premises: &[(Some_, 0, 1), (All, 1, 2)],
        conclusion: (Some_, 0, 2),
        valid: true,
        why: "Some of the {A} are {B}, and every one of the {B} is among the {C}, so those {A} are {C} too. It follows, so the answer is yes.",
    },
    Form {
        premises: &[(All, 0, 1), (Some_, 1, 2)],
        conclusion: (Some_, 0, 2),
        valid: false,
        why: "The {B} that are {C} might include none of the {A}, so nothing says some {A} are {C}. It does not follow, so the answer is no.",
    },
    Form {
        premises: &[(No, 0, 1), (No, 1, 2)],
        conclusion: (No, 0, 2),
        valid: false,
        why: "The {A} and the {C} both lie outside the {B}, which says nothing about whether the {A} and the {C} overlap. It does not follow, so the answer is no.",
    },
    Form {
        premises: &[(All, 0, 1), (All, 1, 2)],
        conclusion: (All, 2, 0),
        valid: false,
        why: "The premises put every one of the {A} among the {C}, but there may be {C} that are not {A}. It does not follow, so the answer is no.",
    },
];

const CHAINS: &[Form] = &[
    Form {
        premises: &[(All, 0, 1), (All, 1, 2), (All, 2, 3)],
        conclusion: (All, 0, 3),
        valid: true,
        why: "Every one of the {A} is among the {B}, every one of the {B} is among the {C}, and every one of the {C} is among the {D}, so every one of the {A} is among the {D}. It follows, so the answer is yes.",
    },
    Form {
        premises: &[(All, 0, 1), (All, 1, 2), (No, 2, 3)],
        conclusion: (No, 0, 3),
        valid: true,
        why: "Every one of the {A} is among the {B}, so among the {C}, and none of the {C} is among the {D}, so none of the {A} is among the {D}. It follows, so the answer is yes.",
    },
    Form {
        premises: &[(No, 0, 1), (All, 2, 1), (All, 3, 2)],
        conclusion: (No, 0, 3),
        valid: true,
        why: "Every one of the {D} is among the {C}, so among the {B}, and none of the {A} is among the {B}, so none of the {A} is among the {D}. It follows, so the answer is yes.",
    },
    Form {
        premises: &[(All, 0, 1), (All, 2, 1), (All, 2, 3)],
        conclusion: (All, 0, 3),
        valid: false,
        why: "The {A} and the {C} both lie inside the {B}, but the {A} need not be {C}, so nothing puts the {A} among the {D}. It does not follow, so the answer is no.",
    },
    Form {
        premises: &[(All, 0, 1), (All, 1, 2), (All, 3, 2)],
        conclusion: (All, 0, 3),
        valid: false,
        why: "The {A} lie inside the {C}, and so do the {D}, but they could be different parts of the {C}, so the {A} need not be {D}. It does not follow, so the answer is no.",
    },
    Form {
        premises: &[(All, 0, 1), (No, 1, 2), (No, 2, 3)],
        conclusion: (No, 0, 3),
        valid: false,
        why: "The {A} are outside the {C} and so are the {D}, but that says nothing about whether the {A} and the {D} overlap. It does not follow, so the answer is no.",
    },
    Form {
        premises: &[(All, 0, 1), (All, 1, 2), (All, 2, 3)],
        conclusion: (All, 3, 0),
        valid: false,
        why: "The premises put every one of the {A} among the {D}, but there may be {D} that are not {A}. It does not follow, so the answer is no.",
    },
];

/// Made-up plural nouns of two syllables ("blorkips"), so world knowledge cannot stand in for
/// the logic.
fn nonsense_word(rng: &mut Lcg) -> String {
    const ONSETS: &[&str] = &["bl", "gr", "z", "fl", "m", "t", "k", "dr", "sn", "pl", "j"];
    const VOWELS: &[&str] = &["o", "a", "i", "u", "e", "oo"];
    const CODAS: &[&str] = &[
        "p", "n", "rk", "b", "m", "t", "g", "d", "ck", "mp", "rp", "nd",
    ];
    const ENDINGS: &[&str] = &["ip", "ol", "um", "en", "ak", "id"];
    format!(
        "{}{}{}{}s",
        pick(rng, ONSETS),
        pick(rng, VOWELS),
        pick(rng, CODAS),
        pick(rng, ENDINGS)
    )
}

fn statement((q, x, y): Statement, terms: &[String]) -> String {
    let quant = match q {
        All => "all",
        No => "no",
        Some_ => "some",
    };
    format!("{quant} {} are {}", terms[x], terms[y])
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn argument(rng: &mut Lcg, forms: &[Form], terms: usize) -> Problem {
    let valid = rng.below(2) == 0;
    let candidates: Vec<&Form> = forms.iter().filter(|f| f.valid == valid).collect();
    let form = pick(rng, &candidates);
    let mut names: Vec<String> = vec![];
    while names.len() < terms {
        let w = nonsense_word(rng);
        if !names.contains(&w) {
            names.push(w);
        }
    }
    let mut order: Vec<usize> = (0..form.premises.len()).collect();
    rng.shuffle(&mut order);
    let premises: Vec<String> = order
        .iter()
        .map(|&i| format!("{}.", capitalised(&statement(form.premises[i], &names))))
        .collect();
    let letters = ["A", "B", "C", "D"];
    let slots: Vec<(&str, String)> = letters
        .iter()
        .zip(&names)
        .map(|(l, n)| (*l, n.clone()))
        .collect();
    Problem::new(
        form.premises.len() as u32,
        if valid { "yes" } else { "no" },
        super::fill(form.why, &slots),
    )
    .slot("premises", premises.join(" "))
    .slot("conclusion", statement(form.conclusion, &names))
}

fn syllogism(rng: &mut Lcg) -> Problem {
    argument(rng, SYLLOGISMS, 3)
}

fn chain(rng: &mut Lcg) -> Problem {
    argument(rng, CHAINS, 4)
}

/// A proposition over p, q, r. Operands of `and`/`or` and of `not` are parenthesised when
/// they are themselves `and`/`or`, so the text reads one way only.
enum Expr {
    Var(usize),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
}

const VARS: [&str; 3] = ["p", "q", "r"];

impl Expr {
    /// A random proposition with exactly `ops` operators and no `not not`.
    fn random(rng: &mut Lcg, ops: usize, allow_not: bool) -> Expr {
        if ops == 0 {
            return Expr::Var(rng.below(VARS.len()));
        }
        if allow_not && rng.below(3) == 0 {
            return Expr::Not(Box::new(Expr::random(rng, ops - 1, false)));
        }
        // Two different sides: no `q or q`.
        let (a, b) = loop {
            let left = rng.below(ops);
            let a = Expr::random(rng, left, true);
            let b = Expr::random(rng, ops - 1 - left, true);
            if a.text() != b.text() {
                break (Box::new(a), Box::new(b));
            }
        };
        if rng.below(2) == 0 {
            Expr::And(a, b)
        } else {
            Expr::Or(a, b)
        }
    }

    fn text(&self) -> String {
        let operand = |e: &Expr| match e {
            Expr::And(..) | Expr::Or(..) => format!("({})", e.text()),
            _ => e.text(),
        };
        match self {
            Expr::Var(i) => VARS[*i].to_string(),
            Expr::Not(e) => format!("not {}", operand(e)),
            Expr::And(a, b) => format!("{} and {}", operand(a), operand(b)),
            Expr::Or(a, b) => format!("{} or {}", operand(a), operand(b)),
        }
    }

    /// The value, writing one sentence per operator (innermost first) into `steps`.
    fn eval(&self, values: &[bool; 3], steps: &mut Vec<String>) -> bool {
        let word = |b: bool| if b { "true" } else { "false" };
        match self {
            Expr::Var(i) => values[*i],
            Expr::Not(e) => {
                let v = e.eval(values, steps);
                steps.push(format!(
                    "'{}' is {} because '{}' is {}.",
                    self.text(),
                    word(!v),
                    e.text(),
                    word(v)
                ));
                !v
            }
            Expr::And(a, b) | Expr::Or(a, b) => {
                let (x, y) = (a.eval(values, steps), b.eval(values, steps));
                let is_and = matches!(self, Expr::And(..));
                let v = if is_and { x && y } else { x || y };
                let why = match (is_and, v) {
                    (true, true) => "both sides are true",
                    (true, false) => "at least one side is false",
                    (false, true) => "at least one side is true",
                    (false, false) => "both sides are false",
                };
                steps.push(format!("'{}' is {} because {why}.", self.text(), word(v)));
                v
            }
        }
    }
}

fn truth(rng: &mut Lcg) -> Problem {
    let ops = range(rng, 2, 3) as usize;
    let expr = Expr::random(rng, ops, true);
    let values = [rng.below(2) == 0, rng.below(2) == 0, rng.below(2) == 0];
    let word = |b: bool| if b { "true" } else { "false" };
    let assignment: Vec<String> = VARS
        .iter()
        .zip(values)
        .map(|(v, b)| format!("{v} is {}", word(b)))
        .collect();
    let mut steps = vec![];
    let value = expr.eval(&values, &mut steps);
    Problem::new(
        ops as u32,
        word(value),
        format!(
            "{} So the whole statement is {}.",
            steps.join(" "),
            word(value)
        ),
    )
    .slot("values", and_list(&assignment))
    .slot("expr", expr.text())
}
