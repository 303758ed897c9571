//! Checks on the generated splits: determinism, balance, train/eval separation, and every
//! answer recomputed here from the question's own values by separate code (floating point
//! formulas, a Venn-diagram model check for syllogisms, a parser for propositions).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::*;

fn split_of(split: Split) -> Vec<Generated> {
    generate_split_detailed(split, split.default_count(), split.default_seed())
}

fn both_splits() -> Vec<(Split, Vec<Generated>)> {
    vec![
        (Split::Train, split_of(Split::Train)),
        (Split::Eval, split_of(Split::Eval)),
    ]
}

fn all_kinds() -> impl Iterator<Item = (&'static str, &'static Kind)> {
    DOMAINS
        .iter()
        .flat_map(|&d| kinds(d).iter().map(move |k| (d, k)))
}

fn repo_file(path: &str) -> String {
    let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

#[test]
fn the_same_seed_gives_the_same_file_and_another_seed_does_not() {
    for split in [Split::Train, Split::Eval] {
        let a = to_jsonl(&generate_split(split, 300, 7));
        assert_eq!(a, to_jsonl(&generate_split(split, 300, 7)));
        assert_ne!(a, to_jsonl(&generate_split(split, 300, 8)));
        // A smaller count is a prefix of a larger one.
        assert!(a.starts_with(&to_jsonl(&generate_split(split, 100, 7))));
    }
    assert_eq!(to_jsonl(&generate(40, 3)), to_jsonl(&generate(40, 3)));
}

#[test]
fn the_committed_files_are_what_their_commands_write() {
    for split in [Split::Train, Split::Eval] {
        let expected = to_jsonl(&generate_split(
            split,
            split.default_count(),
            split.default_seed(),
        ));
        assert!(
            repo_file(split.default_out()) == expected,
            "{} differs from `gen-data --split {split:?}`: regenerate it (see synthetic.rs)",
            split.default_out()
        );
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(split.default_out());
        let (loaded, skipped) =
            crate::data::load_jsonl(&path, crate::data::BadLines::Abort).unwrap();
        assert_eq!((loaded.len(), skipped), (split.default_count(), 0));
        assert!(loaded
            .iter()
            .all(|e| e.steps.is_some() && e.reasoning.is_some()));
    }
    // The original set stays reproducible by `gen-data --count 256 --seed 0`.
    assert!(repo_file("data/synthetic_reasoning_set.jsonl") == to_jsonl(&generate(256, 0)));
}

#[test]
fn every_domain_appears_in_both_splits_in_equal_numbers() {
    assert!(Split::Train.default_count() >= 2000 && Split::Eval.default_count() >= 400);
    assert_ne!(Split::Train.default_seed(), Split::Eval.default_seed());
    for (split, set) in both_splits() {
        let mut per_domain: HashMap<&str, usize> = HashMap::new();
        for g in &set {
            *per_domain.entry(g.example.domain.as_str()).or_default() += 1;
        }
        for d in DOMAINS {
            assert_eq!(per_domain[d], set.len() / 4, "{split:?} {d}");
        }
        assert_eq!(per_domain.len(), 4, "{split:?}: {per_domain:?}");
        // Every kind and every phrasing of the split is used.
        let used: HashSet<&str> = set.iter().map(|g| g.template.as_str()).collect();
        for (_, kind) in all_kinds() {
            for t in 0..kind.templates(split).len() {
                let id = format!("{}/{}/{t}", kind.id, split.name());
                assert!(used.contains(id.as_str()), "{id} unused");
            }
        }
    }
}

#[test]
fn eval_phrasings_and_questions_never_appear_in_train() {
    let mut train_texts = HashSet::new();
    let mut eval_texts = HashSet::new();
    let mut ids = HashSet::new();
    for (domain, kind) in all_kinds() {
        assert_eq!(kind.domain, domain, "{}", kind.id);
        assert!(kind.id.starts_with(&format!("{domain}.")), "{}", kind.id);
        assert!(ids.insert(kind.id), "kind id {} twice", kind.id);
        assert!(
            kind.train.len() >= 3,
            "{}: fewer than 3 train phrasings",
            kind.id
        );
        assert!(
            kind.eval.len() >= 2,
            "{}: fewer than 2 eval phrasings",
            kind.id
        );
        for t in kind.train {
            assert!(train_texts.insert(*t), "train phrasing used twice: {t}");
        }
        for t in kind.eval {
            assert!(eval_texts.insert(*t), "eval phrasing used twice: {t}");
        }
    }
    let shared: Vec<_> = train_texts.intersection(&eval_texts).collect();
    assert!(shared.is_empty(), "phrasings in both splits: {shared:?}");

    let sets = both_splits();
    let (train, eval) = (&sets[0].1, &sets[1].1);
    let train_templates: HashSet<&str> = train.iter().map(|g| g.template.as_str()).collect();
    let train_questions: HashSet<&str> =
        train.iter().map(|g| g.example.question.as_str()).collect();
    for g in eval {
        assert!(g.template.contains("/eval/"), "{}", g.template);
        assert!(!train_templates.contains(g.template.as_str()));
        assert!(
            !train_questions.contains(g.example.question.as_str()),
            "eval question also in train: {}",
            g.example.question
        );
    }
    assert!(train.iter().all(|g| g.template.contains("/train/")));
}

#[test]
fn no_question_repeats_within_a_split() {
    for (split, set) in both_splits() {
        let mut seen = HashSet::new();
        for g in &set {
            assert!(
                seen.insert(g.example.question.as_str()),
                "{split:?}: repeated question {}",
                g.example.question
            );
        }
    }
}

/// `{key}`s of a template.
fn placeholders(template: &str) -> BTreeSet<&str> {
    template
        .split('{')
        .skip(1)
        .map(|s| s.split_once('}').expect("closed placeholder").0)
        .collect()
}

#[test]
fn every_phrasing_states_every_value_its_kind_draws() {
    let mut rng = Lcg::from_state(11);
    for (_, kind) in all_kinds() {
        for _ in 0..20 {
            let problem = (kind.make)(&mut rng);
            let keys: BTreeSet<&str> = problem.slots.iter().map(|(k, _)| *k).collect();
            for t in kind.train.iter().chain(kind.eval) {
                assert_eq!(placeholders(t), keys, "{}: {t}", kind.id);
                let question = fill(t, &problem.slots);
                assert!(!question.contains(['{', '}']), "{question}");
                for (k, v) in &problem.slots {
                    assert!(question.contains(v.as_str()), "{k}={v} not in {question}");
                }
            }
        }
    }
}

// Independent recomputation.

fn slot<'a>(g: &'a Generated, key: &str) -> &'a str {
    &g.slots
        .iter()
        .find(|(k, _)| *k == key)
        .unwrap_or_else(|| panic!("{}: no slot {key}", g.kind))
        .1
}

fn value(g: &Generated, key: &str) -> f64 {
    let s = slot(g, key);
    s.parse()
        .unwrap_or_else(|_| panic!("{}: slot {key}={s} is not a number", g.kind))
}

/// Size of a unit in a base unit of its quantity (meter, gram, liter, second).
fn unit_size(unit: &str) -> f64 {
    match unit {
        "kilometers" => 1000.0,
        "meters" | "grams" | "liters" | "seconds" => 1.0,
        "centimeters" => 0.01,
        "millimeters" | "milliliters" => 0.001,
        "kilograms" => 1000.0,
        "minutes" => 60.0,
        "hours" => 3600.0,
        "days" => 86400.0,
        other => panic!("unknown unit {other}"),
    }
}

/// Day of a common year, 1-based.
fn day_of_year(month: &str, day: f64) -> f64 {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const LENGTHS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let m = NAMES.iter().position(|&n| n == month).expect("a month");
    f64::from(LENGTHS[..m].iter().sum::<u32>()) + day
}

fn weekday_after(day: &str, n: f64) -> String {
    const DAYS: [&str; 7] = [
        "Sunday",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
    ];
    let start = DAYS.iter().position(|&d| d == day).expect("a weekday");
    let mut i = start;
    for _ in 0..n as usize {
        i = (i + 1) % 7;
    }
    DAYS[i].to_string()
}

/// Who is first (or last) once the comparisons are closed under transitivity.
fn order_answer(facts: &str, which: &str) -> String {
    const MORE: [&str; 4] = ["taller", "older", "faster", "heavier"];
    const LESS: [&str; 4] = ["shorter", "younger", "slower", "lighter"];
    const MOST: [&str; 4] = ["tallest", "oldest", "fastest", "heaviest"];
    let mut people: Vec<&str> = vec![];
    let mut above: Vec<(usize, usize)> = vec![];
    for fact in facts.split('.').map(str::trim).filter(|f| !f.is_empty()) {
        let words: Vec<&str> = fact.split(' ').collect();
        let [a, "is", cmp, "than", b] = words[..] else {
            panic!("unparsed fact {fact:?}")
        };
        let [a, b] = [a, b].map(|p| {
            people.iter().position(|&q| q == p).unwrap_or_else(|| {
                people.push(p);
                people.len() - 1
            })
        });
        if MORE.contains(&cmp) {
            above.push((a, b));
        } else {
            assert!(LESS.contains(&cmp), "{cmp}");
            above.push((b, a));
        }
    }
    let n = people.len();
    let mut beats = vec![vec![false; n]; n];
    for (a, b) in above {
        beats[a][b] = true;
    }
    for k in 0..n {
        for i in 0..n {
            for j in 0..n {
                beats[i][j] |= beats[i][k] && beats[k][j];
            }
        }
    }
    let top = MOST.contains(&which);
    let winners: Vec<usize> = (0..n)
        .filter(|&i| (0..n).all(|j| i == j || if top { beats[i][j] } else { beats[j][i] }))
        .collect();
    assert_eq!(winners.len(), 1, "no unique answer in {facts}");
    people[winners[0]].to_string()
}

/// A statement "all|no|some X are Y" as (quantifier, X, Y).
fn parse_statement(text: &str) -> (String, String, String) {
    let words: Vec<String> = text
        .trim()
        .trim_end_matches('.')
        .split(' ')
        .map(str::to_lowercase)
        .collect();
    let [q, x, are, y] = &words[..] else {
        panic!("unparsed statement {text:?}")
    };
    assert_eq!(are, "are");
    (q.clone(), x.clone(), y.clone())
}

/// Whether the conclusion holds in every Venn-diagram model of the premises: a model says
/// which of the 2^terms regions have members.
fn follows(premises: &str, conclusion: &str, cache: &mut HashMap<String, bool>) -> String {
    let mut statements: Vec<(String, String, String)> =
        premises.split(". ").map(parse_statement).collect();
    statements.push(parse_statement(conclusion));
    let mut terms: Vec<String> = vec![];
    let mut shape = vec![];
    for (q, x, y) in &statements {
        let mut id = |t: &String| {
            terms.iter().position(|u| u == t).unwrap_or_else(|| {
                terms.push(t.clone());
                terms.len() - 1
            })
        };
        let (x, y) = (id(x), id(y));
        shape.push((q.clone(), x, y));
    }
    let key = format!("{shape:?}");
    let verdict = *cache.entry(key).or_insert_with(|| {
        let regions = 1usize << terms.len();
        let holds = |model: u64, (q, x, y): &(String, usize, usize)| {
            let inhabited = |r: usize| model >> r & 1 == 1;
            let (inx, iny) = (|r: usize| r >> x & 1 == 1, |r: usize| r >> y & 1 == 1);
            match q.as_str() {
                "all" => !(0..regions).any(|r| inhabited(r) && inx(r) && !iny(r)),
                "no" => !(0..regions).any(|r| inhabited(r) && inx(r) && iny(r)),
                "some" => (0..regions).any(|r| inhabited(r) && inx(r) && iny(r)),
                other => panic!("quantifier {other}"),
            }
        };
        let (conclusion, premises) = shape.split_last().unwrap();
        (0..1u64 << regions)
            .filter(|&m| premises.iter().all(|p| holds(m, p)))
            .all(|m| holds(m, conclusion))
    });
    if verdict { "yes" } else { "no" }.to_string()
}

/// Evaluates "p and (not q or r)"-style text; operands of and/or are a variable, `not X` or
/// a parenthesised proposition.
fn truth_value(assignment: &str, expr: &str) -> String {
    let mut values = HashMap::new();
    for part in assignment.replace(" and ", ", ").split(", ") {
        let (var, v) = part.split_once(" is ").expect("`x is true`");
        values.insert(var.to_string(), v == "true");
    }
    let spaced = expr.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    fn unary(t: &[&str], i: &mut usize, v: &HashMap<String, bool>) -> bool {
        let tok = t[*i];
        *i += 1;
        match tok {
            "not" => !unary(t, i, v),
            "(" => {
                let x = binary(t, i, v);
                assert_eq!(t[*i], ")");
                *i += 1;
                x
            }
            var => v[var],
        }
    }
    fn binary(t: &[&str], i: &mut usize, v: &HashMap<String, bool>) -> bool {
        let a = unary(t, i, v);
        match t.get(*i) {
            Some(&"and") => {
                *i += 1;
                let b = unary(t, i, v);
                a && b
            }
            Some(&"or") => {
                *i += 1;
                let b = unary(t, i, v);
                a || b
            }
            _ => a,
        }
    }
    let mut i = 0;
    let v = binary(&tokens, &mut i, &values);
    assert_eq!(i, tokens.len(), "unparsed tail of {expr}");
    v.to_string()
}

fn numbers_in(list: &str) -> Vec<f64> {
    list.split(", ").map(|x| x.parse().unwrap()).collect()
}

enum Expected {
    Number(f64),
    Text(String),
}

fn recompute(g: &Generated, cache: &mut HashMap<String, bool>) -> Expected {
    use Expected::{Number, Text};
    let n = |k: &str| value(g, k);
    let s = |k: &str| slot(g, k);
    match g.kind {
        "math.change" => Number(n("bill") - n("count") * n("price")),
        "math.two_items" => Number(n("bill") - n("n1") * n("p1") - n("n2") * n("p2")),
        "math.share" => {
            let each = (n("boxes") * n("per") - n("given")) / n("friends");
            assert!(each.fract() == 0.0 && each > 0.0, "uneven share in {g:?}");
            Number(each)
        }
        "math.fraction_of" => Number(n("total") * (1.0 - n("a") / n("b"))),
        "math.fraction_sum" => Number(n("a") / n("b") + n("c") / n("d")),
        "math.percent_off" => Number(n("price") * (100.0 - n("pct")) / 100.0),
        "math.percent_growth" => Number(n("n") * (1.0 + n("pct") / 100.0) - n("m")),
        "science.speed" => Number(n("d") / n("t")),
        "science.kmh_to_ms" => Number(n("v") / 3.6),
        "science.convert" => Number(n("value") * unit_size(s("from")) / unit_size(s("to"))),
        "science.mixed_units" => Number(
            (n("x") * unit_size(s("big")) + n("y") * unit_size(s("small"))) / unit_size(s("small")),
        ),
        "science.density" => Number(n("m") / n("v")),
        "science.ohm_current" => Number(n("volts") / n("ohms")),
        "science.ohm_power" => Number(n("volts") * n("volts") / n("ohms")),
        "science.box_volume" => Number(n("l") * n("w") * n("h")),
        // The questions fix pi at 3.14 (written so, not as a literal clippy takes for PI).
        "science.cylinder_volume" => Number(314.0 / 100.0 * n("r") * n("r") * n("h")),
        "science.c_to_f" => Number(n("c") * 1.8 + 32.0),
        "science.f_to_c" => Number((n("f") - 32.0) / 1.8),
        "logic.order" => Text(order_answer(s("facts"), s("which"))),
        "logic.syllogism" | "logic.chain" => Text(follows(s("premises"), s("conclusion"), cache)),
        "logic.truth" => Text(truth_value(s("values"), s("expr"))),
        "general.letter_count" => Number(s("word").matches(s("letter")).count() as f64),
        "general.list_count" => {
            let members = general::CATEGORIES
                .iter()
                .find(|(c, _)| *c == s("category"))
                .expect("a category")
                .1;
            Number(
                s("items")
                    .split(", ")
                    .filter(|w| members.contains(w))
                    .count() as f64,
            )
        }
        "general.weekday_after" => Text(weekday_after(s("day"), n("n"))),
        "general.days_between" => Number(n("d2") - n("d1")),
        "general.days_across" => {
            Number(day_of_year(s("m2"), n("d2")) - day_of_year(s("m1"), n("d1")))
        }
        "general.alphabetical_first" => Text(
            s("words")
                .split(", ")
                .min()
                .expect("some words")
                .to_string(),
        ),
        "general.smallest" => Number(
            numbers_in(s("numbers"))
                .into_iter()
                .fold(f64::MAX, f64::min),
        ),
        "general.sorted_position" => {
            let mut xs = numbers_in(s("numbers"));
            xs.sort_by(f64::total_cmp);
            Number(xs[n("k") as usize - 1])
        }
        other => panic!("no independent check for {other}"),
    }
}

#[test]
fn every_answer_matches_an_independent_recomputation() {
    let mut cache = HashMap::new();
    let mut checked: HashMap<&str, usize> = HashMap::new();
    // The committed splits and two more seeds each, to reach rarer draws.
    for split in [Split::Train, Split::Eval] {
        for seed in [split.default_seed(), 101, 202] {
            for g in generate_split_detailed(split, split.default_count(), seed) {
                let answer = &g.example.answer;
                match recompute(&g, &mut cache) {
                    Expected::Number(x) => {
                        let got: f64 = answer.parse().unwrap_or_else(|_| {
                            panic!("{}: answer {answer} is not a number", g.kind)
                        });
                        assert!(
                            (got - x).abs() <= 1e-9 * x.abs().max(1.0),
                            "{}: answer {answer}, recomputed {x}: {}",
                            g.kind,
                            g.example.question
                        );
                    }
                    Expected::Text(t) => {
                        assert_eq!(answer, &t, "{}: {}", g.kind, g.example.question)
                    }
                }
                *checked.entry(g.kind).or_default() += 1;
            }
        }
    }
    for (_, kind) in all_kinds() {
        assert!(checked[kind.id] > 0, "{} never checked", kind.id);
    }
}

/// The canonical number form: `-?(0|[1-9][0-9]*)(\.[0-9]{0,2}[1-9])?`, and not `-0`.
fn canonical_number(s: &str) -> bool {
    let re = regex::Regex::new(r"^-?(0|[1-9][0-9]*)(\.[0-9]{0,2}[1-9])?$").unwrap();
    re.is_match(s) && s != "-0"
}

/// The numbers in a text, as written: an optional `-` right before a digit (and not after
/// a letter or digit), digits, and a `.` only when a digit follows it.
fn numbers_written(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        let starts_negative = b[i] == b'-'
            && b.get(i + 1).is_some_and(u8::is_ascii_digit)
            && (i == 0 || b[i - 1] == b' ');
        if b[i].is_ascii_digit() || starts_negative {
            let start = i;
            i += 1;
            while i < b.len()
                && (b[i].is_ascii_digit()
                    || (b[i] == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)))
            {
                i += 1;
            }
            out.push(&text[start..i]);
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn answers_are_canonical_and_the_reasoning_ends_at_them() {
    assert!(canonical_number("2.5") && canonical_number("-0.125") && canonical_number("40"));
    for bad in [
        "2.50", "2.", "02", "1,000", "-0", "1e3", "0.1250", "1/2", " 3",
    ] {
        assert!(!canonical_number(bad), "{bad}");
    }
    assert_eq!(
        numbers_written("From -5 x 9 / 5 = -9. Add 32: -9 + 32 = 23 km/h."),
        ["-5", "9", "5", "-9", "32", "-9", "32", "23"]
    );
    for (split, set) in both_splits() {
        for g in &set {
            let (answer, reasoning) = (&g.example.answer, g.example.reasoning.as_deref().unwrap());
            if answer.parse::<f64>().is_ok() {
                assert!(canonical_number(answer), "{split:?} {}: {answer}", g.kind);
                let numbers = numbers_written(reasoning);
                assert_eq!(
                    numbers.last(),
                    Some(&answer.as_str()),
                    "{}: {reasoning}",
                    g.kind
                );
                // Every number the question or reasoning writes is canonical too.
                for x in numbers_written(&g.example.question)
                    .into_iter()
                    .chain(numbers)
                {
                    assert!(canonical_number(x), "{}: {x} in {reasoning}", g.kind);
                }
            } else {
                assert!(
                    !answer.is_empty() && !answer.contains(char::is_whitespace),
                    "{}: answer {answer:?} is not one token",
                    g.kind
                );
                let last = reasoning.trim_end_matches('.').rsplit(' ').next().unwrap();
                assert_eq!(last, answer, "{}: {reasoning}", g.kind);
                if g.example.domain == "logic" && !g.kind.ends_with("order") {
                    assert!(["yes", "no", "true", "false"].contains(&answer.as_str()));
                }
            }
        }
    }
}

#[test]
fn steps_count_the_worked_operations() {
    for (split, set) in both_splits() {
        let mut few = 0;
        let mut many = 0;
        for g in &set {
            let steps = g.example.steps.expect("steps recorded");
            assert!((1..=4).contains(&steps), "{}: {steps}", g.kind);
            if ["math", "science"].contains(&g.example.domain.as_str()) {
                let equations = g
                    .example
                    .reasoning
                    .as_deref()
                    .unwrap()
                    .matches(" = ")
                    .count();
                assert_eq!(equations, steps as usize, "{}: {:?}", g.kind, g.example);
            }
            if steps <= 2 {
                few += 1;
            } else {
                many += 1;
            }
        }
        // Both difficulty groups are well represented in each split.
        assert!(
            few * 5 > set.len() && many * 5 > set.len(),
            "{split:?}: {few} vs {many}"
        );
    }
}

#[test]
fn yes_and_no_and_true_and_false_are_both_common() {
    let set = split_of(Split::Train);
    for kind in ["logic.syllogism", "logic.chain", "logic.truth"] {
        let answers: Vec<&str> = set
            .iter()
            .filter(|g| g.kind == kind)
            .map(|g| g.example.answer.as_str())
            .collect();
        let first = answers
            .iter()
            .filter(|&&a| a == "yes" || a == "true")
            .count();
        assert!(
            first * 4 > answers.len() && first * 4 < answers.len() * 3,
            "{kind}: {first} of {}",
            answers.len()
        );
    }
}
