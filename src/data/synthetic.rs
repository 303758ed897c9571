//! Seeded, verifiable reasoning problems with exact answers and worked reasoning.
//!
//! The committed sets, and the exact commands that write them (tests check the files match):
//!
//! ```text
//! grpo-xla gen-data --split train --count 2000 --seed 1 --out data/reasoning_train.jsonl
//! grpo-xla gen-data --split eval --count 400 --seed 2 --out data/reasoning_eval.jsonl
//! grpo-xla gen-data --count 256 --seed 0 --out data/synthetic_reasoning_set.jsonl
//! ```
//!
//! The last is the original small set ([`generate`], four kinds, kept byte for byte because
//! configs and tests use it). The first two come from [`generate_split`]: four domains
//! (`math`, `science`, `logic`, `general`), taken in turn so a split is balanced, each a list of
//! problem kinds (see `math.rs`, `science.rs`, `logic.rs`, `general.rs`). A kind draws its
//! numbers, writes the worked reasoning and the answer, and records `steps`: the number of
//! worked operations (for math and science, the number of `a op b = c` equations in the
//! reasoning; for logic, the comparisons, premises or operators chained; for general, the
//! counting/sorting/date operations). Each kind has at least three train phrasings and two
//! different eval phrasings, and a split only ever uses its own, so the eval set measures
//! generalisation to new wording rather than memorised templates; the two splits also use
//! different seeds.
//!
//! | kind | steps | answer |
//! |---|---|---|
//! | `math.change` (price x count, change from a note) | 2 | number |
//! | `math.two_items` (two purchases, total, change) | 4 | number |
//! | `math.share` (boxes x per box, minus some, shared equally) | 3 | number |
//! | `math.fraction_of` (what is left after a/b is taken) | 3 | number |
//! | `math.fraction_sum` (a/b + c/d as a decimal) | 3 | number |
//! | `math.percent_off` (sale price after p% off) | 2 | number |
//! | `math.percent_growth` (grow by p%, then lose m) | 3 | number |
//! | `science.speed` (distance / time) | 1 | number |
//! | `science.kmh_to_ms` (km/h to m/s) | 2 | number |
//! | `science.convert` (one unit to another, either way) | 1 | number |
//! | `science.mixed_units` (`x` big units and `y` small ones, in small units) | 2 | number |
//! | `science.density` (mass / volume) | 1 | number |
//! | `science.ohm_current` (I = V / R) | 1 | number |
//! | `science.ohm_power` (I = V / R, then P = V x I) | 2 | number |
//! | `science.box_volume` (l x w x h) | 2 | number |
//! | `science.cylinder_volume` (pi = 3.14) | 3 | number |
//! | `science.c_to_f`, `science.f_to_c` | 2 | number |
//! | `logic.order` (who is tallest/oldest... from 2-4 comparisons) | 2-4 | name |
//! | `logic.syllogism` (two premises over made-up words) | 2 | yes/no |
//! | `logic.chain` (three premises) | 3 | yes/no |
//! | `logic.truth` (p, q, r with and/or/not) | 2-3 | true/false |
//! | `general.letter_count` (a letter in a word) | 1 | number |
//! | `general.list_count` (members of a category in a list) | 1 | number |
//! | `general.weekday_after` (weekday N days later) | 2 | weekday |
//! | `general.days_between` (two dates in one month) | 1 | number |
//! | `general.days_across` (into the next month) | 2 | number |
//! | `general.alphabetical_first` | 1 | word |
//! | `general.smallest` (of a list) | 1 | number |
//! | `general.sorted_position` (k-th smallest) | 2 | number |
//!
//! Answers are short and exact. Numbers use one canonical form (see [`num`]): plain decimals,
//! no units, no thousands separators, no trailing zeros (`2.5`, not `2.50`), fractions as
//! decimals. Other answers are one token: `yes`/`no`, `true`/`false` (lower case), a person's
//! name or a weekday (capitalised as in the question), or a lower-case word. The reasoning
//! always ends with the answer: its last number for numeric answers, its last word otherwise.

use std::collections::HashSet;

use super::Example;
use crate::rng::Lcg;

mod general;
mod logic;
mod math;
pub mod num;
mod science;
#[cfg(test)]
mod tests;

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

/// The original set: `count` problems from `seed`, cycling through four kinds.
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

/// Which phrasings a generated split uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    Train,
    Eval,
}

impl Split {
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Eval => "eval",
        }
    }

    /// The size of the committed file for this split.
    pub fn default_count(self) -> usize {
        match self {
            Split::Train => 2000,
            Split::Eval => 400,
        }
    }

    /// The seed of the committed file (different per split).
    pub fn default_seed(self) -> u64 {
        match self {
            Split::Train => 1,
            Split::Eval => 2,
        }
    }

    /// The committed file, relative to the repository root.
    pub fn default_out(self) -> &'static str {
        match self {
            Split::Train => "data/reasoning_train.jsonl",
            Split::Eval => "data/reasoning_eval.jsonl",
        }
    }
}

/// The domains, in the order a split cycles through them.
pub const DOMAINS: [&str; 4] = ["math", "science", "logic", "general"];

/// One drawn problem before it is phrased: the values a question template needs (every
/// template of the kind uses every slot), the worked reasoning, the answer and its step count.
struct Problem {
    slots: Vec<(&'static str, String)>,
    reasoning: String,
    answer: String,
    steps: u32,
}

impl Problem {
    fn new(steps: u32, answer: impl ToString, reasoning: String) -> Problem {
        Problem {
            slots: vec![],
            reasoning,
            answer: answer.to_string(),
            steps,
        }
    }

    fn slot(mut self, key: &'static str, value: impl ToString) -> Problem {
        self.slots.push((key, value.to_string()));
        self
    }
}

/// A problem kind: how to draw one, and its phrasings for each split.
struct Kind {
    id: &'static str,
    domain: &'static str,
    train: &'static [&'static str],
    eval: &'static [&'static str],
    make: fn(&mut Lcg) -> Problem,
}

impl Kind {
    fn templates(&self, split: Split) -> &'static [&'static str] {
        match split {
            Split::Train => self.train,
            Split::Eval => self.eval,
        }
    }
}

fn kinds(domain: &str) -> &'static [Kind] {
    match domain {
        "math" => math::KINDS,
        "science" => science::KINDS,
        "logic" => logic::KINDS,
        "general" => general::KINDS,
        other => panic!("unknown domain {other}"),
    }
}

/// A generated example with what produced it, for tests and per-kind reports.
#[derive(Clone, Debug)]
pub struct Generated {
    pub example: Example,
    /// The problem kind, e.g. `math.percent_off`.
    pub kind: &'static str,
    /// The phrasing: `<kind>/<split>/<index>`, e.g. `math.percent_off/eval/1`.
    pub template: String,
    /// The values filled into the phrasing.
    pub slots: Vec<(&'static str, String)>,
}

/// Draws left before a repeated question is accepted (only a tiny split of a kind with few
/// possible problems would get there).
const DRAWS_PER_QUESTION: usize = 100;

/// `count` worked examples of `split` from `seed`: domains in turn, kinds in turn within a
/// domain, the kind's phrasings for this split in turn, no question twice. The first `n` of a
/// larger count are the `n` of a smaller one.
pub fn generate_split_detailed(split: Split, count: usize, seed: u64) -> Vec<Generated> {
    let mut rng = Lcg::from_state(seed);
    let mut seen = HashSet::new();
    (0..count)
        .map(|i| {
            let list = kinds(DOMAINS[i % DOMAINS.len()]);
            let turn = i / DOMAINS.len();
            let kind = &list[turn % list.len()];
            let templates = kind.templates(split);
            // The kind's phrasings in turn, so each is used about equally often.
            let t = (turn / list.len()) % templates.len();
            let mut draws = 0;
            loop {
                let problem = (kind.make)(&mut rng);
                let question = fill(templates[t], &problem.slots);
                draws += 1;
                if seen.insert(question.clone()) || draws == DRAWS_PER_QUESTION {
                    break Generated {
                        example: Example {
                            question,
                            reasoning: Some(problem.reasoning),
                            answer: problem.answer,
                            domain: kind.domain.into(),
                            steps: Some(problem.steps),
                        },
                        kind: kind.id,
                        template: format!("{}/{}/{t}", kind.id, split.name()),
                        slots: problem.slots,
                    };
                }
            }
        })
        .collect()
}

/// [`generate_split_detailed`] without the provenance.
pub fn generate_split(split: Split, count: usize, seed: u64) -> Vec<Example> {
    generate_split_detailed(split, count, seed)
        .into_iter()
        .map(|g| g.example)
        .collect()
}

/// One JSON object per line, as `gen-data` writes them.
pub fn to_jsonl(examples: &[Example]) -> String {
    let mut text = String::new();
    for e in examples {
        text.push_str(&serde_json::to_string(e).expect("an Example always serialises"));
        text.push('\n');
    }
    text
}

/// A template with each `{key}` replaced by its slot's value.
fn fill(template: &str, slots: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("unclosed `{` in a template");
        let key = &rest[open + 1..close];
        let value = slots
            .iter()
            .find(|(k, _)| *k == key)
            .unwrap_or_else(|| panic!("no slot `{key}` for template {template:?}"));
        out.push_str(&value.1);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

// Drawing helpers shared by the kinds.

/// Uniform in `lo..=hi`.
fn range(rng: &mut Lcg, lo: i64, hi: i64) -> i64 {
    lo + rng.below((hi - lo + 1) as usize) as i64
}

fn pick<T: Copy>(rng: &mut Lcg, items: &[T]) -> T {
    items[rng.below(items.len())]
}

/// `k` different items, in random order.
fn sample<T: Copy>(rng: &mut Lcg, items: &[T], k: usize) -> Vec<T> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    rng.shuffle(&mut order);
    order[..k].iter().map(|&i| items[i]).collect()
}

/// "a", "a and b", "a, b and c".
fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => format!(
            "{} and {}",
            init.iter()
                .map(|s| s.as_ref())
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

const PEOPLE: &[&str] = &[
    "Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun", "Kofi", "Lena",
    "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tomas", "Uma", "Viktor", "Wen",
    "Yara", "Zoe",
];
