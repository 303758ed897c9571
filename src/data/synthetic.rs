//! Seeded, verifiable reasoning problems with exact answers: multi-step arithmetic word
//! problems, unit conversions, ordering puzzles and simple logic. Each carries a worked
//! reasoning, so the set doubles as reference data.

use super::Example;

pub mod num;

/// A small deterministic generator (SplitMix64), so a seed always gives the same set.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const NAMES: &[&str] = &[
    "Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun",
];
const ITEMS: &[&str] = &[
    "apples", "marbles", "books", "stickers", "pencils", "cards", "shells", "coins",
];

fn arithmetic(rng: &mut Rng) -> Example {
    let (who, item) = (rng.pick(NAMES), rng.pick(ITEMS));
    let (a, b, c) = (rng.range(5, 60), rng.range(2, 9), rng.range(1, 20));
    let bought = a * b;
    let answer = bought - c;
    Example {
        question: format!("{who} buys {b} boxes of {item} with {a} {item} in each box, then gives away {c}. How many {item} does {who} have now?"),
        reasoning: Some(format!("{b} boxes x {a} {item} = {bought} {item}. After giving away {c}: {bought} - {c} = {answer}.")),
        answer: answer.to_string(),
        domain: "math".into(),
        steps: None,
    }
}

fn units(rng: &mut Rng) -> Example {
    let kinds: [(&str, &str, i64); 4] = [
        ("kilometers", "meters", 1000),
        ("hours", "minutes", 60),
        ("kilograms", "grams", 1000),
        ("meters", "centimeters", 100),
    ];
    let (big, small, factor) = kinds[(rng.next() % 4) as usize];
    let (x, y) = (rng.range(2, 40), rng.range(1, 9) * factor / 10);
    let answer = x * factor + y;
    Example {
        question: format!("How many {small} are in {x} {big} and {y} {small}?"),
        reasoning: Some(format!("1 {} is {factor} {small}, so {x} {big} = {x} x {factor} = {} {small}. Adding {y}: {} + {y} = {answer}.", big.trim_end_matches('s'), x * factor, x * factor)),
        answer: answer.to_string(),
        domain: "conversion".into(),
        steps: None,
    }
}

fn ordering(rng: &mut Rng) -> Example {
    let mut people: Vec<&str> = vec![];
    while people.len() < 3 {
        let p = rng.pick(NAMES);
        if !people.contains(&p) {
            people.push(p);
        }
    }
    let mut heights: Vec<i64> = vec![];
    while heights.len() < 3 {
        let h = rng.range(140, 190);
        if !heights.contains(&h) {
            heights.push(h);
        }
    }
    let tallest = (0..3).max_by_key(|&i| heights[i]).unwrap();
    let facts: Vec<String> = (0..3)
        .map(|i| format!("{} is {} cm tall", people[i], heights[i]))
        .collect();
    Example {
        question: format!(
            "{}. Who is the tallest? Answer with the height in cm.",
            facts.join(", ")
        ),
        reasoning: Some(format!(
            "Comparing {}, {} and {}: the largest is {}, which is {}.",
            heights[0], heights[1], heights[2], heights[tallest], people[tallest]
        )),
        answer: heights[tallest].to_string(),
        domain: "ordering".into(),
        steps: None,
    }
}

fn logic(rng: &mut Rng) -> Example {
    let n = rng.range(3, 12);
    let legs_each = if rng.next() % 2 == 0 { 4 } else { 2 };
    let animal = if legs_each == 4 { "dogs" } else { "chickens" };
    let extra = rng.range(1, 5);
    let answer = n * legs_each + extra * 2;
    Example {
        question: format!("A farm has {n} {animal} and {extra} ducks. How many legs do the animals have in total?"),
        reasoning: Some(format!("{n} {animal} x {legs_each} legs = {}. {extra} ducks x 2 legs = {}. Total: {} + {} = {answer}.", n * legs_each, extra * 2, n * legs_each, extra * 2)),
        answer: answer.to_string(),
        domain: "logic".into(),
        steps: None,
    }
}

/// `count` problems from `seed`, cycling through the kinds.
pub fn generate(count: usize, seed: u64) -> Vec<Example> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|i| match i % 4 {
            0 => arithmetic(&mut rng),
            1 => units(&mut rng),
            2 => ordering(&mut rng),
            _ => logic(&mut rng),
        })
        .collect()
}
