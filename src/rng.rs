//! One seeded generator for everything on the host that must repeat exactly: random test
//! weights, LoRA initialisation, the data order. A 64-bit LCG (Knuth's MMIX constants): the same
//! seed gives the same numbers on every machine, and a resumed run continues the same sequence.

const MULTIPLIER: u64 = 6_364_136_223_846_793_005;
const INCREMENT: u64 = 1_442_695_040_888_963_407;

#[derive(Clone, Debug)]
pub struct Lcg {
    state: u64,
}

impl Lcg {
    /// Starts from this exact state (the first number drawn is the state after one step).
    pub const fn from_state(state: u64) -> Lcg {
        Lcg { state }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_mul(MULTIPLIER).wrapping_add(INCREMENT);
        self.state
    }

    /// Uniform in [-1, 1), from the top 24 bits.
    pub fn next_signed_unit(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    /// An index below `n` (n > 0), from the top 31 bits.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() >> 33) as usize % n
    }

    /// A permutation of 0..n (Fisher–Yates).
    pub fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_repeats_and_values_stay_in_range() {
        let (mut a, mut b) = (Lcg::from_state(7), Lcg::from_state(7));
        let xs: Vec<f32> = (0..1000).map(|_| a.next_signed_unit()).collect();
        let ys: Vec<f32> = (0..1000).map(|_| b.next_signed_unit()).collect();
        assert_eq!(xs, ys);
        assert!(xs.iter().all(|x| (-1.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        assert!(mean.abs() < 0.1, "mean {mean}");
        let mut order: Vec<usize> = (0..50).collect();
        Lcg::from_state(3).shuffle(&mut order);
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(order, sorted);
    }
}
