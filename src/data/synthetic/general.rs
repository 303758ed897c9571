//! General: counting (letters in a word, members of a category in a list), dates (weekday
//! after N days, days between two dates) and sorting (first word alphabetically, smallest or
//! k-th smallest number). `steps` counts the counting, date and sorting operations.

use super::{and_list, pick, range, sample, Kind, Problem};
use crate::rng::Lcg;

pub(super) const KINDS: &[Kind] = &[
    Kind {
        id: "general.letter_count",
        domain: "general",
        train: &[
            "How many times does the letter '{letter}' appear in the word '{word}'?",
            "Count the letter {letter} in \"{word}\". How many are there?",
            "In the word {word}, how many times do you see the letter {letter}?",
        ],
        eval: &[
            "The word '{word}' contains how many copies of the letter '{letter}'?",
            "Spell '{word}' and tell me how often '{letter}' occurs.",
        ],
        make: letter_count,
    },
    Kind {
        id: "general.list_count",
        domain: "general",
        train: &[
            "How many {category} are in this list: {items}?",
            "Here is a list of words: {items}. How many of them are {category}?",
            "Count the {category} among these words: {items}.",
        ],
        eval: &[
            "Among {items}, how many words name {category}?",
            "Look at the words {items}. What is the number of {category} among them?",
        ],
        make: list_count,
    },
    Kind {
        id: "general.weekday_after",
        domain: "general",
        train: &[
            "Today is {day}. What day of the week will it be in {n} days?",
            "If it is {day} today, which day of the week is it {n} days from now?",
            "{n} days after a {day}, what day of the week is it?",
        ],
        eval: &[
            "Starting on a {day} and counting forward {n} days, on which weekday do you land?",
            "What weekday comes {n} days after {day}?",
        ],
        make: weekday_after,
    },
    Kind {
        id: "general.days_between",
        domain: "general",
        train: &[
            "How many days after {month} {d1} is {month} {d2}?",
            "It is {month} {d1}. How many days are left until {month} {d2}?",
            "A trip starts on {month} {d1} and ends on {month} {d2}. How many days later than the start is the end?",
        ],
        eval: &[
            "Counting forward from {month} {d1}, how many days does it take to reach {month} {d2}?",
            "What is the difference in days between {month} {d1} and {month} {d2} of the same year?",
        ],
        make: days_between,
    },
    Kind {
        id: "general.days_across",
        domain: "general",
        train: &[
            "How many days after {m1} {d1} is {m2} {d2} of the same year?",
            "It is {m1} {d1}. How many days are left until {m2} {d2}?",
            "A parcel is sent on {m1} {d1} and arrives on {m2} {d2}. How many days did it take?",
        ],
        eval: &[
            "Counting forward from {m1} {d1}, how many days does it take to reach {m2} {d2}?",
            "What is the difference in days between {m1} {d1} and the following {m2} {d2}?",
        ],
        make: days_across,
    },
    Kind {
        id: "general.alphabetical_first",
        domain: "general",
        train: &[
            "Which of these words comes first in alphabetical order: {words}?",
            "Sort these words alphabetically: {words}. Which word is first?",
            "In a dictionary, which of the following appears first: {words}?",
        ],
        eval: &[
            "Of {words}, which one would be listed earliest in an alphabetical index?",
            "Arrange the words {words} from A to Z and give the first one.",
        ],
        make: alphabetical_first,
    },
    Kind {
        id: "general.smallest",
        domain: "general",
        train: &[
            "What is the smallest number in this list: {numbers}?",
            "Find the minimum of these numbers: {numbers}.",
            "Which is the least of the following numbers: {numbers}?",
        ],
        eval: &[
            "Among {numbers}, which value is lowest?",
            "Pick the smallest value from the set {numbers}.",
        ],
        make: smallest,
    },
    Kind {
        id: "general.sorted_position",
        domain: "general",
        train: &[
            "If you sort {numbers} from smallest to largest, which number is in position {k}?",
            "Arrange these numbers in increasing order: {numbers}. What is the number in position {k}?",
            "Put {numbers} in ascending order. Which one is number {k} in the sorted list?",
        ],
        eval: &[
            "After ordering {numbers} from least to greatest, what value sits at position {k}?",
            "Counting from the smallest, which number is at place {k} among {numbers}?",
        ],
        make: sorted_position,
    },
];

const LETTER_WORDS: &[&str] = &[
    "strawberry",
    "banana",
    "mississippi",
    "bookkeeper",
    "committee",
    "balloon",
    "coffee",
    "raspberry",
    "engineering",
    "parallel",
    "successful",
    "possession",
    "assessment",
    "tomorrow",
    "pepper",
    "giraffe",
    "cinnamon",
    "broccoli",
    "chocolate",
    "elephant",
    "hippopotamus",
    "programming",
    "accommodate",
    "occurrence",
    "millennium",
    "necessary",
    "embarrass",
    "address",
    "grammar",
    "letter",
    "bubble",
    "apple",
    "puppy",
    "kitten",
    "yellow",
    "referee",
    "papaya",
    "avocado",
    "alphabet",
    "umbrella",
    "butterfly",
    "watermelon",
    "pineapple",
    "barrel",
    "vacuum",
    "coconut",
    "tattoo",
    "cucumber",
    "excellent",
    "independence",
    "difference",
    "assistant",
    "mammal",
    "lollipop",
    "cheese",
    "beekeeper",
    "abracadabra",
    "peppermint",
    "dinosaur",
    "remember",
    "volleyball",
    "goalkeeper",
    "toothpaste",
    "marshmallow",
    "spaghetti",
    "kangaroo",
    "pizza",
    "calendar",
    "dictionary",
    "helicopter",
    "television",
    "restaurant",
    "mountain",
    "triangle",
    "library",
    "sunflower",
    "blueberry",
];

fn letter_count(rng: &mut Lcg) -> Problem {
    let word = pick(rng, LETTER_WORDS);
    let letters: Vec<char> = word.chars().collect();
    let letter = if rng.below(100) < 85 {
        pick(rng, &letters)
    } else {
        let absent: Vec<char> = ('a'..='z').filter(|c| !letters.contains(c)).collect();
        pick(rng, &absent)
    };
    let positions: Vec<String> = (1..)
        .zip(&letters)
        .filter(|(_, &c)| c == letter)
        .map(|(i, _)| i.to_string())
        .collect();
    let spelled = letters
        .iter()
        .map(char::to_string)
        .collect::<Vec<_>>()
        .join("-");
    let count = positions.len();
    let found = match count {
        0 => format!("The letter {letter} is not in it, so it appears 0 times."),
        1 => format!(
            "The letter {letter} is at position {}, so it appears 1 time.",
            positions[0]
        ),
        _ => format!(
            "The letter {letter} is at positions {}, so it appears {count} times.",
            and_list(&positions)
        ),
    };
    Problem::new(1, count, format!("Spelling out {word}: {spelled}. {found}"))
        .slot("letter", letter)
        .slot("word", word)
}

/// Categories whose members belong to no other category here.
pub(super) const CATEGORIES: &[(&str, &[&str])] = &[
    (
        "animals",
        &[
            "dog", "cat", "horse", "rabbit", "tiger", "goat", "wolf", "camel", "zebra", "mouse",
            "fox", "frog",
        ],
    ),
    (
        "fruits",
        &[
            "apple", "banana", "cherry", "grape", "mango", "pear", "peach", "kiwi", "plum",
            "melon", "lemon", "apricot",
        ],
    ),
    (
        "colors",
        &[
            "red", "blue", "green", "yellow", "purple", "pink", "brown", "gray", "white", "black",
            "beige", "crimson",
        ],
    ),
    (
        "vehicles",
        &[
            "car", "bus", "bicycle", "truck", "train", "boat", "tractor", "scooter", "van", "tram",
            "ferry", "taxi",
        ],
    ),
    (
        "tools",
        &[
            "hammer",
            "saw",
            "wrench",
            "drill",
            "shovel",
            "rake",
            "chisel",
            "pliers",
            "screwdriver",
            "axe",
            "trowel",
            "crowbar",
        ],
    ),
];

fn list_count(rng: &mut Lcg) -> Problem {
    let c = rng.below(CATEGORIES.len());
    let (category, members) = CATEGORIES[c];
    let count = range(rng, 2, 5) as usize;
    let mut items = sample(rng, members, count);
    for _ in 0..range(rng, 2, 4) {
        let other = loop {
            let o = rng.below(CATEGORIES.len());
            if o != c {
                break o;
            }
        };
        let word = pick(rng, CATEGORIES[other].1);
        if !items.contains(&word) {
            items.push(word);
        }
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    rng.shuffle(&mut order);
    let items: Vec<&str> = order.iter().map(|&i| items[i]).collect();
    let found: Vec<&str> = items
        .iter()
        .copied()
        .filter(|w| members.contains(w))
        .collect();
    Problem::new(
        1,
        count,
        format!(
            "Going through the list, the {category} are {}, so there are {count}.",
            and_list(&found)
        ),
    )
    .slot("category", category)
    .slot("items", items.join(", "))
}

pub(super) const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn weekday_after(rng: &mut Lcg) -> Problem {
    let start = rng.below(7);
    let n = range(rng, 8, 150);
    let (weeks, extra) = (n / 7, n % 7);
    let (day, answer) = (WEEKDAYS[start], WEEKDAYS[(start + extra as usize) % 7]);
    let week_s = if weeks == 1 { "week" } else { "weeks" };
    let day_s = if extra == 1 { "day" } else { "days" };
    let reasoning = if extra == 0 {
        format!(
            "{n} = 7 x {weeks}, so {n} days is exactly {weeks} {week_s} and the weekday does \
             not change: it is {answer}."
        )
    } else {
        format!(
            "{n} = 7 x {weeks} + {extra}, so {n} days is {weeks} whole {week_s} and {extra} \
             more {day_s}. Counting {extra} {day_s} forward from {day} lands on {answer}."
        )
    };
    Problem::new(2, answer, reasoning)
        .slot("day", day)
        .slot("n", n)
}

/// Month names and lengths in a common (non-leap) year.
pub(super) const MONTHS: [(&str, i64); 12] = [
    ("January", 31),
    ("February", 28),
    ("March", 31),
    ("April", 30),
    ("May", 31),
    ("June", 30),
    ("July", 31),
    ("August", 31),
    ("September", 30),
    ("October", 31),
    ("November", 30),
    ("December", 31),
];

fn days_between(rng: &mut Lcg) -> Problem {
    let (month, length) = pick(rng, &MONTHS);
    let d1 = range(rng, 1, length - 1);
    let d2 = range(rng, d1 + 1, length);
    let answer = d2 - d1;
    Problem::new(
        1,
        answer,
        format!("Both dates are in {month}, so the difference is {d2} - {d1} = {answer} days."),
    )
    .slot("month", month)
    .slot("d1", d1)
    .slot("d2", d2)
}

fn days_across(rng: &mut Lcg) -> Problem {
    // Not from February (leap years) and not from December (the year would change).
    let m = loop {
        let m = rng.below(11);
        if m != 1 {
            break m;
        }
    };
    let ((m1, length), (m2, _)) = (MONTHS[m], MONTHS[m + 1]);
    let d1 = range(rng, 10, length);
    let d2 = range(rng, 1, 20);
    let rest = length - d1;
    let answer = rest + d2;
    Problem::new(
        2,
        answer,
        format!(
            "{m1} has {length} days, so from {m1} {d1} to the end of {m1} is {length} - {d1} = \
             {rest} days. Then {d2} more days reach {m2} {d2}: {rest} + {d2} = {answer}."
        ),
    )
    .slot("m1", m1)
    .slot("d1", d1)
    .slot("m2", m2)
    .slot("d2", d2)
}

const SORT_WORDS: &[&str] = &[
    "apple", "apricot", "anchor", "banana", "basket", "bottle", "button", "candle", "carpet",
    "castle", "cherry", "cloud", "coffee", "dragon", "drum", "eagle", "engine", "falcon",
    "feather", "forest", "garden", "garlic", "ginger", "guitar", "hammer", "harbor", "helmet",
    "island", "jacket", "jungle", "kettle", "kitten", "ladder", "lemon", "letter", "marble",
    "meadow", "mirror", "needle", "noodle", "ocean", "orange", "painter", "pepper", "pillow",
    "planet", "pocket", "rabbit", "river", "rocket", "saddle", "salmon", "silver", "spider",
    "table", "tiger", "tunnel", "valley", "violin", "window", "winter", "yellow", "zebra",
];

fn alphabetical_first(rng: &mut Lcg) -> Problem {
    let k = range(rng, 4, 6) as usize;
    let words = sample(rng, SORT_WORDS, k);
    let mut sorted = words.clone();
    sorted.sort_unstable();
    let answer = sorted[0];
    Problem::new(
        1,
        answer,
        format!(
            "In alphabetical order the words are {}. The first one is {answer}.",
            sorted.join(", ")
        ),
    )
    .slot("words", words.join(", "))
}

/// `k` different whole numbers in `lo..=hi`, in random order.
fn distinct_numbers(rng: &mut Lcg, k: usize, lo: i64, hi: i64) -> Vec<i64> {
    let mut numbers = vec![];
    while numbers.len() < k {
        let x = range(rng, lo, hi);
        if !numbers.contains(&x) {
            numbers.push(x);
        }
    }
    numbers
}

fn joined(numbers: &[i64]) -> String {
    numbers
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn smallest(rng: &mut Lcg) -> Problem {
    let k = range(rng, 5, 7) as usize;
    let numbers = distinct_numbers(rng, k, 1, 999);
    let min = *numbers.iter().min().expect("k > 0");
    Problem::new(
        1,
        min,
        format!(
            "Comparing {} one by one and keeping the smaller each time, the smallest is {min}.",
            joined(&numbers)
        ),
    )
    .slot("numbers", joined(&numbers))
}

fn sorted_position(rng: &mut Lcg) -> Problem {
    let k = range(rng, 5, 7) as usize;
    let numbers = distinct_numbers(rng, k, 1, 200);
    let position = range(rng, 2, k as i64 - 1);
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    let answer = sorted[position as usize - 1];
    Problem::new(
        2,
        answer,
        format!(
            "Sorted from smallest to largest: {}. Position {position} holds {answer}.",
            joined(&sorted)
        ),
    )
    .slot("numbers", joined(&numbers))
    .slot("k", position)
}
