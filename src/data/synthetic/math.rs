//! Math: multi-step arithmetic word problems (money and change, sharing), fractions and
//! percentages. `steps` is the number of `a op b = c` equations in the reasoning.

use super::num::Q;
use super::{pick, range, Kind, Problem, PEOPLE};
use crate::rng::Lcg;

pub(super) const KINDS: &[Kind] = &[
    Kind {
        id: "math.change",
        domain: "math",
        train: &[
            "{name} buys {count} {item} at {price} dollars each and pays with a {bill}-dollar bill. How much change, in dollars, does {name} get back?",
            "Each of the {item} costs {price} dollars. {name} buys {count} of them and hands over {bill} dollars. How many dollars of change should {name} receive?",
            "{name} pays for {count} {item} with {bill} dollars. If one of them costs {price} dollars, how much money is returned as change?",
        ],
        eval: &[
            "With {bill} dollars in hand, {name} purchases {count} {item} priced at {price} dollars apiece. What change is due?",
            "A shop sells {item} for {price} dollars each. {name} gives the cashier {bill} dollars for {count}. Find the change.",
        ],
        make: change,
    },
    Kind {
        id: "math.two_items",
        domain: "math",
        train: &[
            "{name} buys {n1} {item1} at {p1} dollars each and {n2} {item2} at {p2} dollars each, paying with {bill} dollars. How much change does {name} get?",
            "At the market, {item1} cost {p1} dollars each and {item2} cost {p2} dollars each. {name} takes {n1} {item1} and {n2} {item2} and pays {bill} dollars. How many dollars come back as change?",
            "{name} has {bill} dollars and spends some of it on {n1} {item1} ({p1} dollars each) and {n2} {item2} ({p2} dollars each). How many dollars are left?",
        ],
        eval: &[
            "Find the change: {n1} {item1} priced {p1} dollars apiece plus {n2} {item2} priced {p2} dollars apiece, paid for by {name} with {bill} dollars.",
            "After paying for {n1} {item1} at {p1} dollars per item and {n2} {item2} at {p2} dollars per item, how much remains of {name}'s {bill} dollars?",
        ],
        make: two_items,
    },
    Kind {
        id: "math.share",
        domain: "math",
        train: &[
            "{name} has {boxes} boxes of {item} with {per} in each box. After giving {given} away, {name} shares the rest equally among {friends} friends. How many {item} does each friend get?",
            "There are {per} {item} in each of {boxes} boxes. {name} gives {given} to a neighbour and divides the remainder evenly among {friends} friends. How many {item} does each friend receive?",
            "{name} packs {boxes} boxes of {per} {item} each, removes {given} damaged ones, and splits the rest equally into {friends} bags. How many {item} go in each bag?",
        ],
        eval: &[
            "{boxes} crates each hold {per} {item}. Once {given} {item} are taken out, {name} hands the remaining {item} out evenly to {friends} people. How many does each person get?",
            "How many {item} does each of {friends} children get if {name} starts with {boxes} boxes of {per}, sets aside {given}, and divides what is left equally?",
        ],
        make: share,
    },
    Kind {
        id: "math.fraction_of",
        domain: "math",
        train: &[
            "{name} has {total} {item} and gives {a}/{b} of them to a friend. How many {item} does {name} have left?",
            "Out of {total} {item}, {name} uses {a}/{b}. How many {item} remain?",
            "{name} collected {total} {item}. Then {a}/{b} of the {item} were given away. How many are left?",
        ],
        eval: &[
            "A jar holds {total} {item}. If {name} removes {a}/{b} of them, how many {item} stay in the jar?",
            "{name} keeps only what is left after selling {a}/{b} of {total} {item}. How many {item} is that?",
        ],
        make: fraction_of,
    },
    Kind {
        id: "math.fraction_sum",
        domain: "math",
        train: &[
            "{name} pours {a}/{b} liter of water into a jug and then adds {c}/{d} liter more. How many liters of water are in the jug? Give the answer as a decimal.",
            "A recipe of {name}'s uses {a}/{b} cup of sugar and {c}/{d} cup of flour. How many cups is that altogether, as a decimal?",
            "{name} walks {a}/{b} km to the shop and {c}/{d} km to the park. How many km is that in total? Write it as a decimal.",
        ],
        eval: &[
            "A path that {name} built is {a}/{b} km of gravel followed by {c}/{d} km of sand. How long is the path in km, written as a decimal?",
            "{name} adds the fractions {a}/{b} and {c}/{d}. What is the total in decimal form?",
        ],
        make: fraction_sum,
    },
    Kind {
        id: "math.percent_off",
        domain: "math",
        train: &[
            "A {thing} costs {price} dollars. It is on sale for {pct}% off. What is the sale price in dollars?",
            "The regular price of a {thing} is {price} dollars. With a {pct}% discount, how much does it cost?",
            "A store takes {pct}% off a {thing} priced at {price} dollars. How many dollars does the {thing} cost now?",
        ],
        eval: &[
            "How much do you pay for a {price}-dollar {thing} after a {pct} percent reduction?",
            "After a discount of {pct}%, what is the new price of a {thing} that used to sell for {price} dollars?",
        ],
        make: percent_off,
    },
    Kind {
        id: "math.percent_growth",
        domain: "math",
        train: &[
            "A {place} has {n} {things}. The number grows by {pct}%, and then {m} {things} leave. How many {things} does the {place} have now?",
            "The {place} started the year with {n} {things}. It gained {pct}% more, then lost {m}. How many {things} are there at the end?",
            "There are {n} {things} in a {place}. After a {pct}% increase, {m} of them are removed. How many {things} remain?",
        ],
        eval: &[
            "Starting from {n} {things}, a {place} sees a {pct} percent rise followed by a drop of {m}. What is the final count of {things}?",
            "If a {place} with {n} {things} increases that number by {pct}% and afterwards {m} {things} go away, how many {things} are left?",
        ],
        make: percent_growth,
    },
];

/// Things bought in shops, plural.
const GOODS: &[&str] = &[
    "notebooks",
    "pens",
    "sandwiches",
    "tickets",
    "mugs",
    "candles",
    "plants",
    "posters",
    "batteries",
    "socks",
    "muffins",
    "scarves",
    "lamps",
    "towels",
];

/// Things collected and shared, plural.
const COUNTABLES: &[&str] = &[
    "apples", "marbles", "books", "stickers", "pencils", "cards", "shells", "coins", "cookies",
    "stamps", "beads", "buttons",
];

/// The smallest of these notes above `cost`.
fn bill_above(cost: Q, notes: &[i64]) -> Q {
    notes
        .iter()
        .map(|&n| Q::int(n))
        .find(|&n| n > cost)
        .expect("a note large enough")
}

fn change(rng: &mut Lcg) -> Problem {
    let (name, item) = (pick(rng, PEOPLE), pick(rng, GOODS));
    let count = Q::int(range(rng, 2, 9));
    let price = Q::new(range(rng, 3, 40), 2);
    let cost = count * price;
    let bill = bill_above(cost, &[10, 20, 50, 100, 200]);
    let change = bill - cost;
    Problem::new(
        2,
        change,
        format!(
            "{count} {item} at {price} dollars each cost {count} x {price} = {cost} dollars. \
             The change from {bill} dollars is {bill} - {cost} = {change}."
        ),
    )
    .slot("name", name)
    .slot("count", count)
    .slot("item", item)
    .slot("price", price)
    .slot("bill", bill)
}

fn two_items(rng: &mut Lcg) -> Problem {
    let name = pick(rng, PEOPLE);
    let items = super::sample(rng, GOODS, 2);
    let (n1, n2) = (Q::int(range(rng, 2, 6)), Q::int(range(rng, 2, 6)));
    let (p1, p2) = (Q::new(range(rng, 3, 24), 2), Q::new(range(rng, 3, 24), 2));
    let (c1, c2) = (n1 * p1, n2 * p2);
    let total = c1 + c2;
    let bill = bill_above(total, &[20, 50, 100, 200]);
    let change = bill - total;
    let (item1, item2) = (items[0], items[1]);
    Problem::new(
        4,
        change,
        format!(
            "{n1} {item1} cost {n1} x {p1} = {c1} dollars. {n2} {item2} cost {n2} x {p2} = {c2} \
             dollars. Together: {c1} + {c2} = {total} dollars. The change from {bill} dollars is \
             {bill} - {total} = {change}."
        ),
    )
    .slot("name", name)
    .slot("n1", n1)
    .slot("item1", item1)
    .slot("p1", p1)
    .slot("n2", n2)
    .slot("item2", item2)
    .slot("p2", p2)
    .slot("bill", bill)
}

fn share(rng: &mut Lcg) -> Problem {
    let (name, item) = (pick(rng, PEOPLE), pick(rng, COUNTABLES));
    loop {
        let (boxes, per, friends) = (range(rng, 2, 8), range(rng, 4, 24), range(rng, 2, 8));
        let total = boxes * per;
        let mut given = total % friends + friends * range(rng, 0, 3);
        if given == 0 {
            given = friends;
        }
        if given >= total {
            continue;
        }
        let rest = total - given;
        let each = rest / friends;
        return Problem::new(
            3,
            each,
            format!(
                "In all there are {boxes} x {per} = {total} {item}. Taking away {given} leaves \
                 {total} - {given} = {rest}. Split equally {friends} ways: {rest} / {friends} = \
                 {each}."
            ),
        )
        .slot("name", name)
        .slot("boxes", boxes)
        .slot("per", per)
        .slot("item", item)
        .slot("given", given)
        .slot("friends", friends);
    }
}

/// A proper fraction a/b in lowest terms with b from `denominators`.
fn proper_fraction(rng: &mut Lcg, denominators: &[i64]) -> (i64, i64) {
    let b = pick(rng, denominators);
    loop {
        let a = range(rng, 1, b - 1);
        // Lowest terms: a and b share no factor.
        if (2..=a).all(|f| a % f != 0 || b % f != 0) {
            return (a, b);
        }
    }
}

fn fraction_of(rng: &mut Lcg) -> Problem {
    let (name, item) = (pick(rng, PEOPLE), pick(rng, COUNTABLES));
    let (a, b) = proper_fraction(rng, &[2, 3, 4, 5, 6, 8, 10]);
    let total = b * range(rng, 2, 12);
    let unit = total / b;
    let given = a * unit;
    let left = total - given;
    Problem::new(
        3,
        left,
        format!(
            "{total} / {b} = {unit}, so {a}/{b} of {total} is {a} x {unit} = {given}. \
             Left: {total} - {given} = {left}."
        ),
    )
    .slot("name", name)
    .slot("total", total)
    .slot("item", item)
    .slot("a", a)
    .slot("b", b)
}

fn fraction_sum(rng: &mut Lcg) -> Problem {
    let name = pick(rng, PEOPLE);
    let (a, b) = proper_fraction(rng, &[2, 4, 5, 8, 10]);
    let (c, d) = proper_fraction(rng, &[2, 4, 5, 8, 10]);
    let (x, y) = (Q::new(a, b), Q::new(c, d));
    let sum = x + y;
    Problem::new(
        3,
        sum,
        format!("{a}/{b} = {x}. {c}/{d} = {y}. Adding: {x} + {y} = {sum}."),
    )
    .slot("name", name)
    .slot("a", a)
    .slot("b", b)
    .slot("c", c)
    .slot("d", d)
}

const THINGS: &[&str] = &[
    "jacket", "lamp", "bicycle", "backpack", "watch", "chair", "guitar", "kettle", "helmet",
    "camera", "tent", "printer",
];

fn percent_off(rng: &mut Lcg) -> Problem {
    let thing = pick(rng, THINGS);
    let price = Q::int(4 * range(rng, 5, 60));
    let pct = Q::int(pick(rng, &[5, 10, 15, 20, 25, 30, 35, 40, 50, 60, 75]));
    let discount = price * pct / Q::int(100);
    let sale = price - discount;
    Problem::new(
        2,
        sale,
        format!(
            "{pct}% of {price} is {price} x {pct} / 100 = {discount} dollars. \
             The sale price is {price} - {discount} = {sale}."
        ),
    )
    .slot("thing", thing)
    .slot("price", price)
    .slot("pct", pct)
}

const PLACES: &[(&str, &str)] = &[
    ("town", "residents"),
    ("library", "books"),
    ("farm", "sheep"),
    ("club", "members"),
    ("school", "students"),
    ("museum", "paintings"),
];

fn percent_growth(rng: &mut Lcg) -> Problem {
    let (place, things) = pick(rng, PLACES);
    let n = 20 * range(rng, 5, 100);
    let pct = pick(rng, &[5, 10, 15, 20, 25, 30, 40, 50]);
    // n is a multiple of 20 and pct of 5, so the increase is whole.
    let increase = n * pct / 100;
    let grown = n + increase;
    let m = range(rng, 1, grown / 2);
    let left = grown - m;
    Problem::new(
        3,
        left,
        format!(
            "{pct}% of {n} is {n} x {pct} / 100 = {increase}. After the increase: \
             {n} + {increase} = {grown}. After {m} leave: {grown} - {m} = {left}."
        ),
    )
    .slot("place", place)
    .slot("things", things)
    .slot("n", n)
    .slot("pct", pct)
    .slot("m", m)
}
