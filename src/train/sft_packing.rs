//! Packing supervised examples: several (prompt, target) examples one after another in each row,
//! so the learner computes the padding only once per row instead of once per example.
//!
//! One example per row pads every prompt to the longest prompt and every target to the longest
//! target; on the recipe's data about a third of a 4 × (128 + 112) batch is padding, and 45% of
//! the LM head's target positions are. Packed, each row holds its examples end to end (each
//! attends only to itself, positions restarting at 0: `models::gemma::packed_hidden_states`),
//! and the head runs only at the positions that predict a target, gathered into `targets` slots
//! per row. Row length and target slots are rounded up to a multiple of `PACK_QUANTUM` (coarser
//! for long rows: `quantum_for`), so a run meets a handful of shapes, each compiled once (and
//! kept in the executable cache).
//!
//! GRPO groups pack the same way (`PackedExamples::pack_groups`, called by
//! `TrainExample::grouped`): a row holds one group, its prompt once as a prefix every completion
//! attends to, then the completions.

use anyhow::Result;

use crate::graph::{DeviceArray, Placement};
use crate::grpo::programs::{Geometry, PackedGeometry, PackedRows, PackedSftBatch};
use crate::models::gemma::{PADDING_SEGMENT, SHARED_PREFIX};

/// Row lengths and target slots are multiples of this (at least).
pub const PACK_QUANTUM: usize = 32;

/// A packed supervised batch on the host (`PackedSftBatch`'s arrays, row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedExamples {
    pub geo: PackedGeometry,
    pub tokens: Vec<i32>,
    pub positions: Vec<i32>,
    pub segments: Vec<i32>,
    pub target_at: Vec<i32>,
    pub target_ids: Vec<i32>,
    pub target_mask: Vec<f32>,
}

/// The step between the lengths compiled around `n`: `PACK_QUANTUM`, or an eighth of the power
/// of two at or below `n` when that is more. GRPO's grouped rows (a prompt and G completions)
/// run from a few hundred to over a thousand tokens, and each length met is a compile of the
/// train step (about 10 s for the 270M on 2 cores): steps of 64 from 512 and 128 from 1,024 meet
/// half as many, for at most an eighth more tokens.
pub fn quantum_for(n: usize) -> usize {
    let floor_pow2 = 1usize << (usize::BITS - 1 - n.max(1).leading_zeros());
    (floor_pow2 / 8).max(PACK_QUANTUM)
}

/// `n` rounded up to a multiple of `quantum_for(n)` (at least one quantum).
pub fn round_up_to_quantum(n: usize) -> usize {
    let q = quantum_for(n);
    n.max(1).div_ceil(q) * q
}

/// How many examples share a row: two when the batch's rows then still split evenly over
/// `row_multiple` devices, else one (which still drops the padding of the longest example).
pub fn examples_per_row(batch: usize, row_multiple: usize) -> usize {
    match batch % (2 * row_multiple.max(1)) == 0 {
        true => 2,
        false => 1,
    }
}

/// The packed shape of `geo.batch` examples that each fill `geo`'s prompt and target lengths:
/// the largest an SFT phase of that geometry can meet (what `compile-check` plans).
pub fn largest_packed(geo: Geometry, row_multiple: usize) -> PackedGeometry {
    let per_row = examples_per_row(geo.batch as usize, row_multiple);
    // A row's worth of `n` tokens: `per_row` of them, rounded up to the quantum.
    let per_row_of = |n: i64| round_up_to_quantum(n as usize * per_row) as i64;
    PackedGeometry {
        rows: geo.batch / per_row as i64,
        row_len: per_row_of(geo.seq_len()),
        targets: per_row_of(geo.completion_len),
    }
}

impl PackedExamples {
    /// `examples` (prompt ids, target ids) into `rows` rows, the longest example first into the
    /// shortest row that still has room for another example (at most ⌈n / rows⌉ a row), so
    /// rows come out about equally long. Every prompt must be non-empty (it predicts the first
    /// target token).
    pub fn pack(examples: &[(Vec<u32>, Vec<u32>)], rows: usize) -> Result<PackedExamples> {
        anyhow::ensure!(
            rows > 0 && !examples.is_empty(),
            "packing {} examples into {rows} rows",
            examples.len()
        );
        if let Some(i) = examples.iter().position(|(p, _)| p.is_empty()) {
            anyhow::bail!("example {i} has an empty prompt: nothing predicts its first target");
        }
        let per_row = examples.len().div_ceil(rows);
        let mut order: Vec<usize> = (0..examples.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(examples[i].0.len() + examples[i].1.len()));
        let mut members: Vec<Vec<usize>> = vec![vec![]; rows];
        let mut lengths = vec![0usize; rows];
        for i in order {
            let row = (0..rows)
                .filter(|&r| members[r].len() < per_row)
                .min_by_key(|&r| (lengths[r], r))
                .expect("⌈n / rows⌉ examples a row leave room for every example");
            members[row].push(i);
            lengths[row] += examples[i].0.len() + examples[i].1.len();
        }
        let target_count = |m: &Vec<usize>| m.iter().map(|&i| examples[i].1.len()).sum::<usize>();
        let geo = PackedGeometry {
            rows: rows as i64,
            row_len: round_up_to_quantum(*lengths.iter().max().expect("rows > 0")) as i64,
            targets: round_up_to_quantum(members.iter().map(target_count).max().expect("rows > 0"))
                as i64,
        };
        let mut packed = PackedExamples::empty(geo);
        for (r, row) in members.iter().enumerate() {
            packed.fill_row(r, row.iter().map(|&i| &examples[i]));
        }
        Ok(packed)
    }

    fn empty(geo: PackedGeometry) -> PackedExamples {
        let (cells, slots) = (
            (geo.rows * geo.row_len) as usize,
            (geo.rows * geo.targets) as usize,
        );
        PackedExamples {
            geo,
            tokens: vec![0; cells],
            positions: vec![0; cells],
            segments: vec![PADDING_SEGMENT as i32; cells],
            target_at: vec![0; slots],
            target_ids: vec![0; slots],
            target_mask: vec![0.0; slots],
        }
    }

    /// Writes row `r`: each example's prompt then target, its tokens numbered from 0 and
    /// labelled with its place in the row (from 1); each target token's slot points at the
    /// position before it, whose hidden state predicts it.
    fn fill_row<'a>(&mut self, r: usize, row: impl Iterator<Item = &'a (Vec<u32>, Vec<u32>)>) {
        let (len, slots) = (self.geo.row_len as usize, self.geo.targets as usize);
        let (mut at, mut slot) = (r * len, r * slots);
        for (k, (prompt, target)) in row.enumerate() {
            let start = at;
            for (j, &t) in prompt.iter().chain(target).enumerate() {
                self.tokens[at] = t as i32;
                self.positions[at] = j as i32;
                self.segments[at] = k as i32 + 1;
                at += 1;
            }
            for (j, &t) in target.iter().enumerate() {
                self.target_at[slot] = (start - r * len + prompt.len() + j - 1) as i32;
                self.target_ids[slot] = t as i32;
                self.target_mask[slot] = 1.0;
                slot += 1;
            }
        }
    }

    /// GRPO groups one to a row (`GroupedGeometry`): each group's prompt once (the row's
    /// shared prefix), then its completions, their target slots end to end. Also returns where
    /// each completion token's slot is, [groups, G · C] (`GroupedGrpoBatch::completion_slots`,
    /// C = `completion_slots`), so the log-probs read [groups · G, C] like one completion a
    /// row. Every prompt must be non-empty and every completion at most C long.
    pub fn pack_groups(
        groups: &[(&[u32], Vec<&[u32]>)],
        completion_slots: usize,
    ) -> Result<(PackedExamples, Vec<i32>)> {
        let size = groups.first().map_or(0, |(_, c)| c.len());
        anyhow::ensure!(
            size > 0 && groups.iter().all(|(_, c)| c.len() == size),
            "groups of different sizes (or none) cannot share one shape"
        );
        for (k, (prompt, completions)) in groups.iter().enumerate() {
            anyhow::ensure!(!prompt.is_empty(), "group {k} has an empty prompt");
            if let Some(c) = completions.iter().find(|c| c.len() > completion_slots) {
                anyhow::bail!(
                    "group {k}: a completion of {} tokens does not fit {completion_slots} slots",
                    c.len()
                );
            }
        }
        let targets = |cs: &[&[u32]]| cs.iter().map(|c| c.len()).sum::<usize>();
        let longest_row = groups.iter().map(|(p, cs)| p.len() + targets(cs)).max();
        let most_targets = groups.iter().map(|(_, cs)| targets(cs)).max();
        let geo = PackedGeometry {
            rows: groups.len() as i64,
            row_len: round_up_to_quantum(longest_row.expect("groups are not empty")) as i64,
            targets: round_up_to_quantum(most_targets.expect("groups are not empty")) as i64,
        };
        let mut packed = PackedExamples::empty(geo);
        let mut slots = vec![0i32; groups.len() * size * completion_slots];
        for (r, (prompt, completions)) in groups.iter().enumerate() {
            let row_slots = &mut slots[r * size * completion_slots..][..size * completion_slots];
            packed.fill_group(r, prompt, completions, row_slots);
        }
        Ok((packed, slots))
    }

    /// Writes row `r`: the prompt as the shared prefix, then each completion continuing its
    /// positions, its tokens in the next target slots, each predicted by the token before it
    /// (the prompt's last for a completion's first); completion i's token j's slot goes to
    /// `slot_of[i · C + j]` (`slot_of` holds C entries per completion).
    fn fill_group(
        &mut self,
        r: usize,
        prompt: &[u32],
        completions: &[&[u32]],
        slot_of: &mut [i32],
    ) {
        let (len, width) = (self.geo.row_len as usize, self.geo.targets as usize);
        let c = slot_of.len() / completions.len();
        let row = r * len;
        for (j, &t) in prompt.iter().enumerate() {
            self.tokens[row + j] = t as i32;
            self.positions[row + j] = j as i32;
            self.segments[row + j] = SHARED_PREFIX as i32;
        }
        let (mut at, mut used) = (prompt.len(), 0);
        for (i, completion) in completions.iter().enumerate() {
            for (j, &t) in completion.iter().enumerate() {
                self.tokens[row + at + j] = t as i32;
                self.positions[row + at + j] = (prompt.len() + j) as i32;
                self.segments[row + at + j] = i as i32 + 1;
                slot_of[i * c + j] = (used + j) as i32;
                let slot = r * width + used + j;
                self.target_at[slot] = match j {
                    0 => prompt.len() - 1,
                    _ => at + j - 1,
                } as i32;
                self.target_ids[slot] = t as i32;
                self.target_mask[slot] = 1.0;
            }
            at += completion.len();
            used += completion.len();
        }
    }

    /// Target tokens in the batch.
    pub fn target_tokens(&self) -> usize {
        self.target_mask.iter().filter(|&&m| m != 0.0).count()
    }

    /// The rows on the device, split as the placement splits batches.
    pub fn upload_rows(&self, on: &Placement) -> Result<PackedRows<DeviceArray>> {
        let g = self.geo;
        let cells = [g.rows, g.row_len];
        let slots = [g.rows, g.targets];
        Ok(PackedRows {
            tokens: on.put_rows(&self.tokens, &cells)?,
            positions: on.put_rows(&self.positions, &cells)?,
            segments: on.put_rows(&self.segments, &cells)?,
            target_at: on.put_rows(&self.target_at, &slots)?,
            target_ids: on.put_rows(&self.target_ids, &slots)?,
        })
    }

    /// As a supervised batch on the device: the rows and which target slots are used.
    pub fn upload(&self, on: &Placement) -> Result<PackedSftBatch<DeviceArray>> {
        Ok(PackedSftBatch {
            rows: self.upload_rows(on)?,
            target_mask: on.put_rows(&self.target_mask, &[self.geo.rows, self.geo.targets])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(prompt: usize, target: usize, first: u32) -> (Vec<u32>, Vec<u32>) {
        let p = (first..first + prompt as u32).collect();
        let t = (first + 100..first + 100 + target as u32).collect();
        (p, t)
    }

    #[test]
    fn each_target_slot_points_at_the_token_before_its_target() {
        let examples = vec![example(5, 3, 0), example(4, 6, 10), example(7, 2, 20)];
        let p = PackedExamples::pack(&examples, 2).unwrap();
        let (l, t) = (p.geo.row_len as usize, p.geo.targets as usize);
        let mut seen = vec![];
        for r in 0..2 {
            for s in 0..t {
                if p.target_mask[r * t + s] == 0.0 {
                    assert_eq!(p.target_at[r * t + s], 0, "unused slots point at 0");
                    continue;
                }
                let at = r * l + p.target_at[r * t + s] as usize;
                assert_eq!(p.tokens[at + 1], p.target_ids[r * t + s]);
                assert_eq!(p.segments[at], p.segments[at + 1], "within one example");
                seen.push(p.target_ids[r * t + s] as u32);
            }
        }
        seen.sort();
        let mut want: Vec<u32> = examples.iter().flat_map(|e| e.1.clone()).collect();
        want.sort();
        assert_eq!(seen, want, "every target exactly once");
        assert_eq!(p.target_tokens(), want.len());
    }

    #[test]
    fn long_rows_round_up_to_coarser_lengths() {
        let rounded: Vec<usize> = [0, 1, 33, 500, 511, 512, 513, 600, 1023, 1100, 2049]
            .map(round_up_to_quantum)
            .to_vec();
        assert_eq!(
            rounded,
            [32, 32, 64, 512, 512, 512, 576, 640, 1024, 1152, 2304]
        );
        // Never more than an eighth (or one PACK_QUANTUM) of padding.
        for n in 1..5000 {
            let r = round_up_to_quantum(n);
            assert!(
                r >= n && (r - n < PACK_QUANTUM || (r - n) * 8 <= n),
                "{n} -> {r}"
            );
        }
    }

    #[test]
    fn rows_balance_lengths_and_round_up_to_the_quantum() {
        // 40, 30, 20 and 10 tokens into two rows: 40 + 10 and 30 + 20.
        let examples = vec![
            example(20, 20, 0),
            example(5, 5, 1),
            example(15, 15, 2),
            example(10, 10, 3),
        ];
        let p = PackedExamples::pack(&examples, 2).unwrap();
        assert_eq!(p.geo.rows, 2);
        assert_eq!(p.geo.row_len, 64, "the longer row holds 50 tokens");
        assert_eq!(p.geo.targets, 32, "25 target tokens in the fuller row");
        let l = 64;
        for r in 0..2 {
            let segs = &p.segments[r * l..(r + 1) * l];
            assert_eq!(segs.iter().filter(|&&s| s > 0).count(), 50);
            assert_eq!(*segs.iter().max().unwrap(), 2, "two examples a row");
            // positions restart at 0 where a new example starts
            let starts = (0..l)
                .filter(|&i| segs[i] > 0 && p.positions[r * l + i] == 0)
                .count();
            assert_eq!(starts, 2);
        }
    }

    #[test]
    fn two_examples_a_row_only_when_rows_still_split_over_devices() {
        assert_eq!(examples_per_row(4, 1), 2);
        assert_eq!(examples_per_row(4, 2), 2);
        assert_eq!(examples_per_row(4, 4), 1);
        assert_eq!(examples_per_row(3, 1), 1);
    }

    #[test]
    fn the_largest_batch_packs_into_the_largest_shape() {
        let geo = Geometry {
            batch: 4,
            prompt_len: 12,
            completion_len: 20,
        };
        let full: Vec<_> = (0..4).map(|i| example(12, 20, 10 * i)).collect();
        let packed = PackedExamples::pack(&full, 2).unwrap();
        assert_eq!(packed.geo, largest_packed(geo, 1));
        assert_eq!(largest_packed(geo, 4).rows, 4, "one a row over 4 devices");
    }

    #[test]
    fn a_group_shares_its_prompt_and_each_completion_continues_its_positions() {
        let prompt = [7u32, 8, 9];
        let (a, b) = ([11u32, 12], [21u32, 22, 23]);
        let (p, slots) =
            PackedExamples::pack_groups(&[(&prompt[..], vec![&a[..], &b[..]])], 4).unwrap();
        assert_eq!((p.geo.rows, p.geo.row_len, p.geo.targets), (1, 32, 32));
        assert_eq!(&p.tokens[..8], &[7, 8, 9, 11, 12, 21, 22, 23]);
        assert_eq!(&p.positions[..8], &[0, 1, 2, 3, 4, 3, 4, 5]);
        assert_eq!(&p.segments[..9], &[0, 0, 0, 1, 1, 2, 2, 2, -1]);
        // The five completion tokens fill the first five target slots, end to end; completion
        // 2's first token is predicted by the prompt's last, not completion 1's.
        assert_eq!(&p.target_at[..6], &[2, 3, 2, 5, 6, 0]);
        assert_eq!(&p.target_ids[..6], &[11, 12, 21, 22, 23, 0]);
        assert_eq!(p.target_mask.iter().sum::<f32>(), 5.0);
        // Completion i's token j reads slot slots[i · 4 + j] (0 past its end).
        assert_eq!(slots, [0, 1, 0, 0, 2, 3, 4, 0]);
        let long = [1u32; 5];
        assert!(PackedExamples::pack_groups(&[(&prompt[..], vec![&long[..]])], 4).is_err());
    }

    #[test]
    fn an_empty_prompt_is_refused() {
        let err = PackedExamples::pack(&[(vec![], vec![1, 2])], 1).unwrap_err();
        assert!(err.to_string().contains("empty prompt"), "{err}");
    }
}
