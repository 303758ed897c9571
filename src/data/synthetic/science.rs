//! Science: unit conversions and formulas with numbers (speed, density, Ohm's law and power,
//! volumes, temperature scales). `steps` is the number of `a op b = c` equations in the
//! reasoning. Units are written in words, so no unit carries a digit (`cubic centimeters`).

use super::num::Q;
use super::{pick, range, Kind, Problem};
use crate::rng::Lcg;

pub(super) const KINDS: &[Kind] = &[
    Kind {
        id: "science.speed",
        domain: "science",
        train: &[
            "A {vehicle} travels {d} km in {t} hours. What is its average speed in km/h?",
            "In {t} hours, a {vehicle} covers {d} kilometers. Find its average speed in kilometers per hour.",
            "A {vehicle} goes {d} km at a steady pace and takes {t} hours. How fast is it going, in km/h?",
        ],
        eval: &[
            "What average speed, in km per hour, lets a {vehicle} cover {d} km in exactly {t} hours?",
            "Distance: {d} km. Time: {t} hours. What was the {vehicle}'s average speed in km/h?",
        ],
        make: speed,
    },
    Kind {
        id: "science.kmh_to_ms",
        domain: "science",
        train: &[
            "A {vehicle} is travelling at {v} km/h. Convert this speed to meters per second.",
            "A {vehicle} moves at {v} km/h. What is its speed in m/s?",
            "How many meters per second is a {vehicle} doing at a speed of {v} kilometers per hour?",
        ],
        eval: &[
            "Express the speed of a {vehicle} going {v} kilometers per hour in meters per second.",
            "The speedometer of a {vehicle} reads {v} km/h. What is that speed in m/s?",
        ],
        make: kmh_to_ms,
    },
    Kind {
        id: "science.convert",
        domain: "science",
        train: &[
            "How many {to} are in {value} {from}?",
            "Convert {value} {from} to {to}.",
            "A measurement of {value} {from} equals how many {to}?",
        ],
        eval: &[
            "Express {value} {from} in {to}.",
            "If something measures {value} {from}, what is that in {to}?",
        ],
        make: convert,
    },
    Kind {
        id: "science.mixed_units",
        domain: "science",
        train: &[
            "How many {small} are in {x} {big} and {y} {small}?",
            "Convert {x} {big} and {y} {small} into {small} only.",
            "What is {x} {big} and {y} {small}, written in {small}?",
        ],
        eval: &[
            "Write {x} {big} plus {y} {small} as a single number of {small}.",
            "Adding {y} {small} to {x} {big} gives how many {small} altogether?",
        ],
        make: mixed_units,
    },
    Kind {
        id: "science.density",
        domain: "science",
        train: &[
            "An object has a mass of {m} grams and a volume of {v} cubic centimeters. What is its density in grams per cubic centimeter?",
            "A block with a volume of {v} cubic centimeters has a mass of {m} grams. Find its density in grams per cubic centimeter.",
            "What is the density, in grams per cubic centimeter, of a sample with mass {m} g and volume {v} cubic centimeters?",
        ],
        eval: &[
            "Compute the density (grams per cubic centimeter) of {m} grams of material that fills {v} cubic centimeters.",
            "{m} g of a liquid takes up {v} cubic centimeters. How many grams does each cubic centimeter hold?",
        ],
        make: density,
    },
    Kind {
        id: "science.ohm_current",
        domain: "science",
        train: &[
            "A {volts}-volt battery is connected across a {ohms}-ohm resistor. What current flows, in amperes?",
            "Using Ohm's law, find the current in amperes through a {ohms} ohm resistor with {volts} volts across it.",
            "What current (in amperes) flows through a resistance of {ohms} ohms when the voltage is {volts} volts?",
        ],
        eval: &[
            "A resistor of {ohms} ohms has a potential difference of {volts} volts across it. How many amperes pass through it?",
            "Voltage {volts} V, resistance {ohms} ohms: what is the current in amperes?",
        ],
        make: ohm_current,
    },
    Kind {
        id: "science.ohm_power",
        domain: "science",
        train: &[
            "A {volts}-volt supply drives a {ohms}-ohm heater. How much power, in watts, does the heater use?",
            "Find the power in watts used by a {ohms} ohm resistor with {volts} volts across it.",
            "A resistor of {ohms} ohms is connected to {volts} volts. First find the current, then the power in watts.",
        ],
        eval: &[
            "What is the electrical power (watts) when {volts} volts are applied to a {ohms}-ohm load?",
            "How many watts does a {ohms} ohm element consume on a {volts} volt supply?",
        ],
        make: ohm_power,
    },
    Kind {
        id: "science.box_volume",
        domain: "science",
        train: &[
            "A box is {l} cm long, {w} cm wide and {h} cm high. What is its volume in cubic centimeters?",
            "Find the volume, in cubic centimeters, of a rectangular tank measuring {l} cm by {w} cm by {h} cm.",
            "How many cubic centimeters of sand fill a box with length {l} cm, width {w} cm and height {h} cm?",
        ],
        eval: &[
            "A cuboid has edges of {l} cm, {w} cm and {h} cm. Calculate its volume in cubic centimeters.",
            "What volume (cubic centimeters) does a crate with inner dimensions {l} cm x {w} cm x {h} cm enclose?",
        ],
        make: box_volume,
    },
    Kind {
        id: "science.cylinder_volume",
        domain: "science",
        train: &[
            "A cylinder has radius {r} cm and height {h} cm. Using 3.14 for pi, what is its volume in cubic centimeters?",
            "Taking pi as 3.14, find the volume in cubic centimeters of a can with a radius of {r} cm and a height of {h} cm.",
            "What is the volume, in cubic centimeters, of a cylindrical glass {h} cm tall with radius {r} cm? Use pi = 3.14.",
        ],
        eval: &[
            "With pi approximated by 3.14, how many cubic centimeters does a cylinder of height {h} cm and base radius {r} cm hold?",
            "Compute the capacity (cubic centimeters) of a cylindrical tank: radius {r} cm, height {h} cm, pi = 3.14.",
        ],
        make: cylinder_volume,
    },
    Kind {
        id: "science.c_to_f",
        domain: "science",
        train: &[
            "Convert {c} degrees Celsius to degrees Fahrenheit.",
            "The temperature is {c} degrees C. What is it in degrees F?",
            "What is {c} degrees Celsius on the Fahrenheit scale?",
        ],
        eval: &[
            "A thermometer shows {c} degrees Celsius. Express this temperature in Fahrenheit.",
            "How many degrees Fahrenheit correspond to {c} degrees Celsius?",
        ],
        make: c_to_f,
    },
    Kind {
        id: "science.f_to_c",
        domain: "science",
        train: &[
            "Convert {f} degrees Fahrenheit to degrees Celsius.",
            "The temperature is {f} degrees F. What is it in degrees C?",
            "What is {f} degrees Fahrenheit on the Celsius scale?",
        ],
        eval: &[
            "A weather report gives {f} degrees Fahrenheit. Express this temperature in Celsius.",
            "How many degrees Celsius correspond to {f} degrees Fahrenheit?",
        ],
        make: f_to_c,
    },
];

const VEHICLES: &[&str] = &["car", "train", "bus", "truck", "motorbike", "ferry", "van"];

fn speed(rng: &mut Lcg) -> Problem {
    let vehicle = pick(rng, VEHICLES);
    let v = Q::int(range(rng, 10, 120));
    let t = Q::new(range(rng, 3, 12), 2);
    let d = v * t;
    Problem::new(
        1,
        v,
        format!("Average speed is distance divided by time: {d} / {t} = {v} km/h."),
    )
    .slot("vehicle", vehicle)
    .slot("d", d)
    .slot("t", t)
}

fn kmh_to_ms(rng: &mut Lcg) -> Problem {
    let vehicle = pick(rng, VEHICLES);
    let ms = Q::int(range(rng, 2, 45));
    let v = ms * Q::new(36, 10);
    let per_hour = v * Q::int(1000);
    Problem::new(
        2,
        ms,
        format!(
            "{v} km/h means {v} x 1000 = {per_hour} meters per hour. An hour has 3600 seconds, \
             so {per_hour} / 3600 = {ms} m/s."
        ),
    )
    .slot("vehicle", vehicle)
    .slot("v", v)
}

/// (larger unit, its singular, smaller unit, how many smaller units make one larger).
const UNITS: &[(&str, &str, &str, i64)] = &[
    ("kilometers", "kilometer", "meters", 1000),
    ("kilograms", "kilogram", "grams", 1000),
    ("liters", "liter", "milliliters", 1000),
    ("meters", "meter", "centimeters", 100),
    ("centimeters", "centimeter", "millimeters", 10),
    ("hours", "hour", "minutes", 60),
    ("minutes", "minute", "seconds", 60),
    ("days", "day", "hours", 24),
];

fn convert(rng: &mut Lcg) -> Problem {
    let (big, one, small, factor) = pick(rng, UNITS);
    let f = Q::int(factor);
    if rng.below(2) == 0 {
        // Larger to smaller: multiply.
        let value = Q::new(range(rng, 4, 160), 2);
        let answer = value * f;
        Problem::new(
            1,
            answer,
            format!(
                "1 {one} is {factor} {small}, so {value} {big} is {value} x {factor} = {answer} \
                 {small}."
            ),
        )
        .slot("value", value)
        .slot("from", big)
        .slot("to", small)
    } else {
        // Smaller to larger: divide; the answer is a whole number of quarters, not 1.
        let answer = loop {
            let a = Q::new(range(rng, 1, 80), 4);
            if a != Q::int(1) {
                break a;
            }
        };
        let value = answer * f;
        Problem::new(
            1,
            answer,
            format!(
                "1 {one} is {factor} {small}, so {value} {small} is {value} / {factor} = {answer} \
                 {big}."
            ),
        )
        .slot("value", value)
        .slot("from", small)
        .slot("to", big)
    }
}

fn mixed_units(rng: &mut Lcg) -> Problem {
    let (big, _, small, factor) = pick(rng, UNITS);
    let x = range(rng, 2, 40);
    let y = range(rng, 1, factor - 1);
    let a = x * factor;
    let answer = a + y;
    Problem::new(
        2,
        answer,
        format!("{x} {big} is {x} x {factor} = {a} {small}. Adding {y}: {a} + {y} = {answer}."),
    )
    .slot("x", x)
    .slot("big", big)
    .slot("y", y)
    .slot("small", small)
}

fn density(rng: &mut Lcg) -> Problem {
    let rho = Q::new(range(rng, 5, 200), 10);
    let v = Q::int(range(rng, 2, 50));
    let m = rho * v;
    Problem::new(
        1,
        rho,
        format!("Density is mass divided by volume: {m} / {v} = {rho} grams per cubic centimeter."),
    )
    .slot("m", m)
    .slot("v", v)
}

/// Resistances whose reciprocals end within three decimals.
const OHMS: &[i64] = &[2, 4, 5, 8, 10, 20, 25, 40, 50];

fn ohm_current(rng: &mut Lcg) -> Problem {
    let (volts, ohms) = (Q::int(range(rng, 3, 240)), Q::int(pick(rng, OHMS)));
    let amps = volts / ohms;
    Problem::new(
        1,
        amps,
        format!(
            "By Ohm's law the current is the voltage divided by the resistance: \
             {volts} / {ohms} = {amps} amperes."
        ),
    )
    .slot("volts", volts)
    .slot("ohms", ohms)
}

fn ohm_power(rng: &mut Lcg) -> Problem {
    let (volts, ohms) = (Q::int(range(rng, 2, 120)), Q::int(pick(rng, OHMS)));
    let amps = volts / ohms;
    let watts = volts * amps;
    Problem::new(
        2,
        watts,
        format!(
            "The current is the voltage divided by the resistance: {volts} / {ohms} = {amps} \
             amperes. Power is voltage times current: {volts} x {amps} = {watts} watts."
        ),
    )
    .slot("volts", volts)
    .slot("ohms", ohms)
}

fn box_volume(rng: &mut Lcg) -> Problem {
    let (l, w) = (Q::int(range(rng, 2, 40)), Q::int(range(rng, 2, 40)));
    let h = Q::new(range(rng, 2, 60), 2);
    let base = l * w;
    let volume = base * h;
    Problem::new(
        2,
        volume,
        format!(
            "The base area is {l} x {w} = {base} square centimeters. The volume is \
             {base} x {h} = {volume} cubic centimeters."
        ),
    )
    .slot("l", l)
    .slot("w", w)
    .slot("h", h)
}

fn cylinder_volume(rng: &mut Lcg) -> Problem {
    let (r, h) = (Q::int(range(rng, 1, 20)), Q::int(range(rng, 2, 30)));
    let pi = Q::new(314, 100);
    let r2 = r * r;
    let base = pi * r2;
    let volume = base * h;
    Problem::new(
        3,
        volume,
        format!(
            "The radius squared is {r} x {r} = {r2}. The base area is {pi} x {r2} = {base} square \
             centimeters. The volume is {base} x {h} = {volume} cubic centimeters."
        ),
    )
    .slot("r", r)
    .slot("h", h)
}

fn c_to_f(rng: &mut Lcg) -> Problem {
    let c = Q::int(range(rng, -30, 110));
    let scaled = c * Q::int(9) / Q::int(5);
    let f = scaled + Q::int(32);
    Problem::new(
        2,
        f,
        format!(
            "Multiply by 9/5: {c} x 9 / 5 = {scaled}. Add 32: {scaled} + 32 = {f} degrees \
             Fahrenheit."
        ),
    )
    .slot("c", c)
}

fn f_to_c(rng: &mut Lcg) -> Problem {
    // Celsius in fives, so Fahrenheit is whole.
    let c = Q::int(5 * range(rng, -8, 22));
    let f = c * Q::int(9) / Q::int(5) + Q::int(32);
    let less = f - Q::int(32);
    Problem::new(
        2,
        c,
        format!(
            "Subtract 32: {f} - 32 = {less}. Multiply by 5/9: {less} x 5 / 9 = {c} degrees \
             Celsius."
        ),
    )
    .slot("f", f)
}
