//! Batch packing: prompts and completions as the fixed-shape arrays the learner's programs take.
//! Each row is its prompt left-padded to P tokens, then its completion right-padded to C; the
//! completion mask covers exactly the completion's tokens. A stop token ends a completion and is
//! not part of it (Tunix's sampler cuts before EOS), so it is never trained on.

use anyhow::Result;

use super::sft_packing::PackedExamples;
use crate::graph::{DeviceArray, Placement};
use crate::grpo::objective::Aggregation;
use crate::grpo::programs::{Geometry, GroupedGeometry, PackedRows, Sequences};
use crate::rollout::Completion;

/// One training batch on the host.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainExample {
    pub geo: Geometry,
    /// [B, P + C] token ids (0 on padding).
    pub tokens: Vec<i32>,
    /// [B, P + C] 1 on real tokens.
    pub valid: Vec<i32>,
    /// [B, C] 1.0 on completion tokens.
    pub completion_mask: Vec<f32>,
    /// [B] one advantage per completion.
    pub advantages: Vec<f32>,
}

impl TrainExample {
    /// Row r is `completions[r]` after its prompt `prompts[completions[r].prompt_index]`.
    pub fn pack(
        prompts: &[Vec<u32>],
        completions: &[Completion],
        advantages: &[f64],
        geo: Geometry,
    ) -> Result<TrainExample> {
        let rows: Vec<(usize, &[u32])> = completions
            .iter()
            .map(|c| (c.prompt_index, c.tokens.as_slice()))
            .collect();
        Self::pack_rows(prompts, &rows, advantages, geo)
    }

    /// Row r is `rows[r].1` (a completion, or a supervised target) after `prompts[rows[r].0]`.
    pub fn pack_rows(
        prompts: &[Vec<u32>],
        rows: &[(usize, &[u32])],
        advantages: &[f64],
        geo: Geometry,
    ) -> Result<TrainExample> {
        let completions = rows;
        let (b, p, c) = (
            geo.batch as usize,
            geo.prompt_len as usize,
            geo.completion_len as usize,
        );
        anyhow::ensure!(
            completions.len() == b && advantages.len() == b,
            "{} completions and {} advantages for a batch of {b}",
            completions.len(),
            advantages.len()
        );
        let mut tokens = vec![0i32; b * (p + c)];
        let mut valid = vec![0i32; b * (p + c)];
        let mut mask = vec![0f32; b * c];
        for (r, &(prompt_index, completion)) in completions.iter().enumerate() {
            let prompt = &prompts[prompt_index];
            anyhow::ensure!(
                prompt.len() <= p && completion.len() <= c,
                "row {r}: a prompt of {} and a completion of {} tokens do not fit {p} + {c}",
                prompt.len(),
                completion.len()
            );
            let row = r * (p + c);
            let prompt_at = row + p - prompt.len();
            for (j, &t) in prompt.iter().enumerate() {
                tokens[prompt_at + j] = t as i32;
                valid[prompt_at + j] = 1;
            }
            for (j, &t) in completion.iter().enumerate() {
                tokens[row + p + j] = t as i32;
                valid[row + p + j] = 1;
                mask[r * c + j] = 1.0;
            }
        }
        Ok(TrainExample {
            geo,
            tokens,
            valid,
            completion_mask: mask,
            advantages: advantages.iter().map(|&a| a as f32).collect(),
        })
    }

    /// The same rows with the padding no row uses cut away: prompts and completions each
    /// padded only to the next multiple of `multiple` over the longest (at least one
    /// multiple, never longer than before; `multiple` 0 keeps the shape). Left padding and
    /// right padding are masked and positions count real tokens, so every row's log-probs and
    /// loss are the full shape's; the learner only does less work (one compile per shape).
    pub fn trimmed(&self, multiple: i64) -> TrainExample {
        let (b, p, c) = (
            self.geo.batch as usize,
            self.geo.prompt_len as usize,
            self.geo.completion_len as usize,
        );
        if multiple <= 0 {
            return self.clone();
        }
        let row = |r: usize| &self.valid[r * (p + c)..(r + 1) * (p + c)];
        let longest_prompt =
            (0..b).map(|r| p - row(r)[..p].iter().take_while(|&&v| v == 0).count());
        let longest_completion = (0..b).map(|r| row(r)[p..].iter().filter(|&&v| v != 0).count());
        let fit = |longest: usize, max: usize| -> usize {
            let m = multiple as usize;
            (longest.max(1).div_ceil(m) * m).min(max)
        };
        let new_p = fit(longest_prompt.max().unwrap_or(0), p);
        let new_c = fit(longest_completion.max().unwrap_or(0), c);
        let columns = |r: usize| r * (p + c) + p - new_p..r * (p + c) + p + new_c;
        TrainExample {
            geo: Geometry {
                batch: self.geo.batch,
                prompt_len: new_p as i64,
                completion_len: new_c as i64,
            },
            tokens: (0..b)
                .flat_map(|r| self.tokens[columns(r)].to_vec())
                .collect(),
            valid: (0..b)
                .flat_map(|r| self.valid[columns(r)].to_vec())
                .collect(),
            completion_mask: (0..b)
                .flat_map(|r| self.completion_mask[r * c..r * c + new_c].to_vec())
                .collect(),
            advantages: self.advantages.clone(),
        }
    }

    /// The rows in micro-batches of at most `rows` rows each, in order.
    pub fn split_rows(&self, rows: usize) -> Vec<TrainExample> {
        let (b, t, c) = (
            self.geo.batch as usize,
            self.geo.seq_len() as usize,
            self.geo.completion_len as usize,
        );
        (0..b)
            .step_by(rows.max(1))
            .map(|start| {
                let end = (start + rows).min(b);
                TrainExample {
                    geo: Geometry {
                        batch: (end - start) as i64,
                        ..self.geo
                    },
                    tokens: self.tokens[start * t..end * t].to_vec(),
                    valid: self.valid[start * t..end * t].to_vec(),
                    completion_mask: self.completion_mask[start * c..end * c].to_vec(),
                    advantages: self.advantages[start..end].to_vec(),
                }
            })
            .collect()
    }

    /// What the loss averages this batch's terms over, as `aggregation` counts: completion
    /// tokens for a token mean, otherwise rows with at least one completion token. A
    /// micro-batch's share of a whole batch's loss is its units over the whole batch's.
    pub fn loss_units(&self, aggregation: Aggregation) -> f64 {
        let c = self.geo.completion_len as usize;
        match aggregation {
            Aggregation::TokenMean => self.completion_mask.iter().map(|&m| m as f64).sum(),
            _ => self
                .completion_mask
                .chunks(c.max(1))
                .filter(|row| row.iter().any(|&m| m > 0.0))
                .count() as f64,
        }
    }

    /// The same batch with each group of `group_size` consecutive rows (one prompt and its
    /// completions) packed into one row: the prompt once, then the completions
    /// (`PackedExamples::pack_groups`), `completion_len` slots each as here. The layers then
    /// run over each prompt once instead of G times, and over no padding between.
    pub fn grouped(&self, group_size: usize) -> Result<GroupedExamples> {
        let (b, p, c) = (
            self.geo.batch as usize,
            self.geo.prompt_len as usize,
            self.geo.completion_len as usize,
        );
        anyhow::ensure!(
            group_size > 0 && b % group_size == 0,
            "{b} rows are not groups of {group_size}"
        );
        let row = |r: usize| {
            let (tokens, valid) = (&self.tokens[r * (p + c)..], &self.valid[r * (p + c)..]);
            let prompt: Vec<u32> = (0..p)
                .filter(|&j| valid[j] != 0)
                .map(|j| tokens[j] as u32)
                .collect();
            let length = self.completion_mask[r * c..(r + 1) * c]
                .iter()
                .filter(|&&m| m != 0.0)
                .count();
            let completion: Vec<u32> = tokens[p..p + length].iter().map(|&t| t as u32).collect();
            (prompt, completion)
        };
        let rows: Vec<(Vec<u32>, Vec<u32>)> = (0..b).map(row).collect();
        let groups: Vec<(&[u32], Vec<&[u32]>)> = rows
            .chunks(group_size)
            .map(|g| {
                (
                    g[0].0.as_slice(),
                    g.iter().map(|(_, c)| c.as_slice()).collect(),
                )
            })
            .collect();
        for (k, g) in rows.chunks(group_size).enumerate() {
            anyhow::ensure!(
                g.iter().all(|(prompt, _)| *prompt == g[0].0),
                "group {k}: its rows do not share one prompt"
            );
        }
        let (packed, completion_slots) = PackedExamples::pack_groups(&groups, c)?;
        Ok(GroupedExamples {
            geo: GroupedGeometry {
                groups: (b / group_size) as i64,
                group_size: group_size as i64,
                row_len: packed.geo.row_len,
                completion_len: c as i64,
                targets: packed.geo.targets,
            },
            rows: packed,
            completion_slots,
            completion_mask: self.completion_mask.clone(),
            advantages: self.advantages.clone(),
        })
    }

    /// The sequences, completion mask and advantages on the devices, rows split over them.
    pub fn upload(
        &self,
        on: &Placement,
    ) -> Result<(Sequences<DeviceArray>, DeviceArray, DeviceArray)> {
        let (b, t, c) = (self.geo.batch, self.geo.seq_len(), self.geo.completion_len);
        Ok((
            Sequences {
                tokens: on.put_rows(&self.tokens, &[b, t])?,
                valid: on.put_rows(&self.valid, &[b, t])?,
            },
            on.put_rows(&self.completion_mask, &[b, c])?,
            on.put_rows(&self.advantages, &[b])?,
        ))
    }
}

/// A GRPO batch with each group in one row (`TrainExample::grouped`): the packed rows, each
/// completion token's target slot in its row [groups, G · C], the completion mask [B, C] and
/// one advantage per completion.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupedExamples {
    pub geo: GroupedGeometry,
    pub rows: PackedExamples,
    pub completion_slots: Vec<i32>,
    pub completion_mask: Vec<f32>,
    pub advantages: Vec<f32>,
}

/// `GroupedExamples` on the devices, rows split over them.
pub struct GroupedUpload {
    pub rows: PackedRows<DeviceArray>,
    pub completion_slots: DeviceArray,
    pub completion_mask: DeviceArray,
    pub advantages: DeviceArray,
}

impl GroupedExamples {
    pub fn upload(&self, on: &Placement) -> Result<GroupedUpload> {
        let (g, b, c) = (self.geo.groups, self.geo.batch(), self.geo.completion_len);
        Ok(GroupedUpload {
            rows: self.rows.upload_rows(on)?,
            completion_slots: on.put_rows(&self.completion_slots, &[g, self.geo.group_size * c])?,
            completion_mask: on.put_rows(&self.completion_mask, &[b, c])?,
            advantages: on.put_rows(&self.advantages, &[b])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_rows_hold_each_prompt_once_and_refuse_groups_that_do_not_share_one() {
        let geo = Geometry {
            batch: 4,
            prompt_len: 4,
            completion_len: 3,
        };
        let prompts = vec![vec![1, 2], vec![3, 4, 5]];
        let rows: Vec<(usize, &[u32])> =
            vec![(0, &[10, 11]), (0, &[12]), (1, &[13, 14, 15]), (1, &[])];
        let batch = TrainExample::pack_rows(&prompts, &rows, &[0.5, -0.5, 1.0, -1.0], geo).unwrap();
        let grouped = batch.grouped(2).unwrap();
        assert_eq!(grouped.geo.groups, 2);
        assert_eq!(grouped.geo.batch(), 4);
        let l = grouped.geo.row_len as usize;
        assert_eq!(&grouped.rows.tokens[..5], &[1, 2, 10, 11, 12]);
        assert_eq!(&grouped.rows.tokens[l..l + 6], &[3, 4, 5, 13, 14, 15]);
        assert_eq!(grouped.completion_mask, batch.completion_mask);
        // Each row's completion tokens in its first target slots, end to end; completion i's
        // token j reads slot completion_slots[i · 3 + j] of its row.
        let t = grouped.geo.targets as usize;
        assert_eq!(&grouped.rows.target_ids[..3], &[10, 11, 12]);
        assert_eq!(&grouped.rows.target_ids[t..t + 3], &[13, 14, 15]);
        assert_eq!(
            grouped.completion_slots,
            [0, 1, 0, 2, 0, 0, 0, 1, 2, 0, 0, 0]
        );
        assert_eq!(grouped.advantages, batch.advantages);
        assert!(batch.grouped(3).is_err(), "4 rows are not groups of 3");
        let mixed: Vec<(usize, &[u32])> = vec![(0, &[10]), (1, &[12]), (1, &[13]), (1, &[14])];
        let mixed = TrainExample::pack_rows(&prompts, &mixed, &[0.0; 4], geo).unwrap();
        let err = mixed.grouped(2).unwrap_err().to_string();
        assert!(err.contains("do not share one prompt"), "{err}");
    }
    use crate::rollout::Finish;

    #[test]
    fn rows_are_left_padded_prompts_then_right_padded_completions() {
        let geo = Geometry {
            batch: 2,
            prompt_len: 4,
            completion_len: 3,
        };
        let prompts = vec![vec![2, 10, 11], vec![2, 20, 21, 22]];
        let completion = |prompt_index, tokens: Vec<u32>| Completion {
            prompt_index,
            logps: vec![0.0; tokens.len()],
            tokens,
            finish: Finish::Stop,
        };
        let packed = TrainExample::pack(
            &prompts,
            &[completion(1, vec![5]), completion(0, vec![6, 7, 8])],
            &[0.5, -0.5],
            geo,
        )
        .unwrap();
        assert_eq!(
            packed.tokens,
            [2, 20, 21, 22, 5, 0, 0, 0, 2, 10, 11, 6, 7, 8]
        );
        assert_eq!(packed.valid, [1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
        assert_eq!(packed.completion_mask, [1.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
        assert_eq!(packed.advantages, [0.5, -0.5]);
        let one_row = Geometry { batch: 1, ..geo };
        let too_long = TrainExample::pack(&prompts, &[completion(0, vec![1; 4])], &[0.0], one_row);
        assert!(too_long.is_err());
    }

    #[test]
    fn trimming_cuts_only_the_padding_no_row_uses() {
        let geo = Geometry {
            batch: 2,
            prompt_len: 8,
            completion_len: 8,
        };
        let prompts = vec![vec![2, 10, 11], vec![2, 20]];
        let completion = |prompt_index, tokens: Vec<u32>| Completion {
            prompt_index,
            logps: vec![0.0; tokens.len()],
            tokens,
            finish: Finish::Stop,
        };
        let rows = [completion(0, vec![5]), completion(1, vec![6, 7, 8])];
        let packed = TrainExample::pack(&prompts, &rows, &[0.5, -0.5], geo).unwrap();
        let trimmed = packed.trimmed(2);
        let want_geo = Geometry {
            batch: 2,
            prompt_len: 4,
            completion_len: 4,
        };
        assert_eq!(trimmed.geo, want_geo);
        // Exactly what packing into the smaller shape gives.
        let direct = TrainExample::pack(&prompts, &rows, &[0.5, -0.5], want_geo).unwrap();
        assert_eq!(trimmed, direct);
        // Never longer than the packed shape, and 0 keeps it.
        assert_eq!(packed.trimmed(16).geo, geo);
        assert_eq!(packed.trimmed(0), packed);
        // An empty completion still gets one multiple.
        let empty = TrainExample::pack(
            &prompts,
            &[completion(1, vec![])],
            &[0.0],
            Geometry { batch: 1, ..geo },
        )
        .unwrap();
        assert_eq!(empty.trimmed(2).geo.completion_len, 2);
        assert_eq!(empty.trimmed(2).geo.prompt_len, 2);
    }

    #[test]
    fn micro_batches_are_the_rows_in_order_and_count_their_part_of_the_loss() {
        let geo = Geometry {
            batch: 3,
            prompt_len: 2,
            completion_len: 3,
        };
        let prompts = vec![vec![2, 10]];
        let completion = |tokens: Vec<u32>| Completion {
            prompt_index: 0,
            logps: vec![0.0; tokens.len()],
            tokens,
            finish: Finish::Stop,
        };
        let rows = [
            completion(vec![5]),
            completion(vec![6, 7, 8]),
            completion(vec![]),
        ];
        let packed = TrainExample::pack(&prompts, &rows, &[0.5, -0.5, 0.0], geo).unwrap();
        let micro = packed.split_rows(2);
        assert_eq!(micro.len(), 2);
        assert_eq!(micro[0].geo, Geometry { batch: 2, ..geo });
        assert_eq!(micro[1].geo, Geometry { batch: 1, ..geo });
        // Each micro-batch is what packing its rows alone gives.
        let alone = |r: &[Completion], adv: &[f64]| {
            let g = Geometry {
                batch: r.len() as i64,
                ..geo
            };
            TrainExample::pack(&prompts, r, adv, g).unwrap()
        };
        assert_eq!(micro[0], alone(&rows[..2], &[0.5, -0.5]));
        assert_eq!(micro[1], alone(&rows[2..], &[0.0]));
        // Tokens for a token mean; rows that have a completion token for the others.
        assert_eq!(micro[0].loss_units(Aggregation::TokenMean), 4.0);
        assert_eq!(micro[0].loss_units(Aggregation::SequenceMeanTokenMean), 2.0);
        assert_eq!(micro[1].loss_units(Aggregation::SequenceMeanTokenMean), 0.0);
        assert_eq!(packed.split_rows(3), vec![packed.clone()]);
    }
}
