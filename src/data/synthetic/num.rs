//! Exact numbers for the generators. Every quantity is a fraction of integers, so a worked
//! solution never carries a rounding error, and it prints in one canonical decimal form.
//!
//! The canonical form (answers, questions and reasoning all use it): an optional `-`, the integer
//! part without leading zeros or thousands separators, and — only when the value is not whole — a
//! `.` and at most [`MAX_DECIMALS`] digits, the last of which is not `0` (`2.5`, `0.125`, `-3`).
//! Fractions are answered as decimals, never `a/b`: the rewards parse answers as Python floats.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Div, Mul, Sub};

/// The most digits after the point a generated number may have; generators pick their inputs
/// so that every result ends within it (denominators of the form 2^a·5^b).
pub const MAX_DECIMALS: u32 = 3;

/// A reduced fraction `n / d` with `d > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Q {
    n: i64,
    d: i64,
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Q {
    pub fn new(n: i64, d: i64) -> Q {
        assert!(d != 0, "zero denominator");
        let g = gcd(n, d).max(1) * d.signum();
        Q { n: n / g, d: d / g }
    }

    pub const fn int(n: i64) -> Q {
        Q { n, d: 1 }
    }

    pub fn is_int(self) -> bool {
        self.d == 1
    }

    /// The whole part, for values known to be whole.
    pub fn whole(self) -> i64 {
        assert!(self.is_int(), "{self:?} is not whole");
        self.n
    }

    /// How many digits after the point the exact decimal needs, or None when it never ends.
    pub fn decimals(self) -> Option<u32> {
        let (mut d, mut twos, mut fives) = (self.d, 0, 0);
        while d % 2 == 0 {
            d /= 2;
            twos += 1;
        }
        while d % 5 == 0 {
            d /= 5;
            fives += 1;
        }
        (d == 1).then_some(twos.max(fives))
    }
}

impl From<i64> for Q {
    fn from(n: i64) -> Q {
        Q::int(n)
    }
}

impl Add for Q {
    type Output = Q;
    fn add(self, o: Q) -> Q {
        Q::new(self.n * o.d + o.n * self.d, self.d * o.d)
    }
}

impl Sub for Q {
    type Output = Q;
    fn sub(self, o: Q) -> Q {
        Q::new(self.n * o.d - o.n * self.d, self.d * o.d)
    }
}

impl Mul for Q {
    type Output = Q;
    fn mul(self, o: Q) -> Q {
        Q::new(self.n * o.n, self.d * o.d)
    }
}

impl Div for Q {
    type Output = Q;
    fn div(self, o: Q) -> Q {
        Q::new(self.n * o.d, self.d * o.n)
    }
}

impl Ord for Q {
    fn cmp(&self, o: &Q) -> Ordering {
        (i128::from(self.n) * i128::from(o.d)).cmp(&(i128::from(o.n) * i128::from(self.d)))
    }
}

impl PartialOrd for Q {
    fn partial_cmp(&self, o: &Q) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

/// The canonical decimal form; panics for a value without one (a generator bug).
impl fmt::Display for Q {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let places = self
            .decimals()
            .filter(|&k| k <= MAX_DECIMALS)
            .unwrap_or_else(|| panic!("{}/{} has no short decimal form", self.n, self.d));
        let scale = 10u64.pow(places);
        // d divides 10^places, and places is the fewest that works: the last digit is not 0.
        let scaled = self.n.unsigned_abs() * (scale / self.d as u64);
        let sign = if self.n < 0 { "-" } else { "" };
        let (whole, frac) = (scaled / scale, scaled % scale);
        if places == 0 {
            write!(f, "{sign}{whole}")
        } else {
            write!(f, "{sign}{whole}.{frac:0width$}", width = places as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_the_shortest_exact_decimal() {
        let cases = [
            (Q::int(42), "42"),
            (Q::int(0), "0"),
            (Q::int(-7), "-7"),
            (Q::new(5, 2), "2.5"),
            (Q::new(-1, 8), "-0.125"),
            (Q::new(10, 4), "2.5"),
            (Q::new(3, 20), "0.15"),
            (Q::new(250, 100), "2.5"),
            (Q::new(1, 40), "0.025"),
            (Q::new(1000, 1), "1000"),
            (Q::new(6, -4), "-1.5"),
        ];
        for (q, text) in cases {
            assert_eq!(q.to_string(), text);
        }
        assert_eq!(Q::new(1, 2) + Q::new(3, 4), Q::new(5, 4));
        assert_eq!(Q::new(1, 2) - Q::new(3, 4), Q::new(-1, 4));
        assert_eq!(Q::new(3, 5) * Q::int(10), Q::int(6));
        assert_eq!(Q::int(3) / Q::new(3, 4), Q::int(4));
        assert!(Q::new(1, 3) < Q::new(1, 2) && Q::new(-1, 2) < Q::int(0));
    }

    #[test]
    #[should_panic(expected = "no short decimal form")]
    fn a_repeating_decimal_is_a_generator_bug() {
        let _ = Q::new(1, 3).to_string();
    }

    #[test]
    #[should_panic(expected = "no short decimal form")]
    fn more_than_three_places_is_a_generator_bug() {
        let _ = Q::new(1, 16).to_string();
    }
}
