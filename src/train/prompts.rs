//! The prompts of each step: the training examples in a seeded order that is reshuffled every
//! epoch. Where the stream stands (epoch, cursor) is part of every checkpoint, so a resumed run
//! sees the same prompts an uninterrupted one would.

use super::checkpoint::TrainState;
use crate::data::Example;
use crate::rng::Lcg;

/// A permutation of 0..n for an epoch, the same for the same seed.
fn epoch_order(n: usize, seed: u64, epoch: usize, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    if shuffle {
        let state =
            seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5_4a32_d192_ed03;
        Lcg::from_state(state).shuffle(&mut order);
    }
    order
}

pub struct PromptStream<'a> {
    data: &'a [Example],
    seed: u64,
    shuffle: bool,
    order: Vec<usize>,
}

impl<'a> PromptStream<'a> {
    /// The stream positioned where `state` says.
    pub fn new(data: &'a [Example], seed: u64, shuffle: bool, state: &TrainState) -> Self {
        PromptStream {
            data,
            seed,
            shuffle,
            order: epoch_order(data.len(), seed, state.epoch, shuffle),
        }
    }

    /// The next `n` examples; advances `state`'s epoch and cursor.
    pub fn next_batch(&mut self, state: &mut TrainState, n: usize) -> Vec<&'a Example> {
        let mut batch = Vec::with_capacity(n);
        while batch.len() < n {
            if state.cursor >= self.order.len() {
                state.epoch += 1;
                state.cursor = 0;
                self.order = epoch_order(self.data.len(), self.seed, state.epoch, self.shuffle);
            }
            batch.push(&self.data[self.order[state.cursor]]);
            state.cursor += 1;
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(n: usize) -> Vec<Example> {
        (0..n)
            .map(|i| Example {
                question: format!("q{i}"),
                reasoning: None,
                answer: i.to_string(),
                domain: "math".into(),
                steps: None,
            })
            .collect()
    }

    #[test]
    fn every_epoch_visits_each_example_once_and_a_restart_continues_the_same_order() {
        let data = examples(5);
        let mut state = TrainState::default();
        let mut stream = PromptStream::new(&data, 7, true, &state);
        let seen: Vec<String> = (0..5)
            .flat_map(|_| stream.next_batch(&mut state, 2))
            .map(|e| e.answer.clone())
            .collect();
        for epoch in seen.chunks(5) {
            let mut sorted = epoch.to_vec();
            sorted.sort();
            assert_eq!(sorted, ["0", "1", "2", "3", "4"]);
        }
        assert_ne!(seen[..5], seen[5..]);
        // A stream rebuilt from a saved state continues identically.
        let mut again = TrainState::default();
        let mut first = PromptStream::new(&data, 7, true, &again);
        first.next_batch(&mut again, 6);
        let mut resumed = PromptStream::new(&data, 7, true, &again);
        let rest: Vec<String> = resumed
            .next_batch(&mut again, 4)
            .iter()
            .map(|e| e.answer.clone())
            .collect();
        assert_eq!(rest, seen[6..]);
    }
}
