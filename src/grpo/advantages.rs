//! Group-relative advantages over groups of G consecutive samples, as Tunix computes them.

/// Which estimator (Tunix's `advantage_estimator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// (r - mean) / (std with ddof=1 + ε)
    Grpo,
    /// r - mean (Dr. GRPO)
    Drgrpo,
    /// r - mean of the other samples (RLOO)
    Rloo,
}

/// Whether a group's rewards are all equal: its advantages are then 0 and it teaches nothing.
pub fn is_uniform(group: &[f64]) -> bool {
    group.iter().all(|&r| r == group[0])
}

/// The groups (of `group` consecutive rewards) worth an update when groups whose rewards are
/// all equal are dropped (DAPO's dynamic sampling, without resampling): their advantages are
/// 0, so they carry no policy gradient. Uniform groups are added back, in order, until the
/// rows split over `row_multiple` devices; when no group has a spread, every group is kept.
pub fn informative_groups(rewards: &[f64], group: usize, row_multiple: usize) -> Vec<usize> {
    let groups: Vec<&[f64]> = rewards.chunks(group).collect();
    let mut kept: Vec<usize> = (0..groups.len())
        .filter(|&i| !is_uniform(groups[i]))
        .collect();
    if kept.is_empty() {
        return (0..groups.len()).collect();
    }
    let mut uniform = (0..groups.len()).filter(|&i| is_uniform(groups[i]));
    while (kept.len() * group) % row_multiple.max(1) != 0 {
        match uniform.next() {
            Some(i) => kept.push(i),
            None => break,
        }
    }
    kept.sort_unstable();
    kept
}

pub fn advantages(rewards: &[f64], group: usize, estimator: Estimator, epsilon: f64) -> Vec<f64> {
    assert!(
        group > 0 && rewards.len() % group == 0,
        "{} rewards do not split into groups of {group}",
        rewards.len()
    );
    rewards
        .chunks(group)
        .flat_map(|g| {
            let n = g.len() as f64;
            let mean = g.iter().sum::<f64>() / n;
            let std = if g.len() > 1 {
                (g.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                f64::NAN
            };
            let sum: f64 = g.iter().sum();
            g.iter()
                .map(move |&r| match estimator {
                    Estimator::Grpo => (r - mean) / (std + epsilon),
                    Estimator::Drgrpo => r - mean,
                    Estimator::Rloo => r - (sum - r) / (n - 1.0),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_groups_with_a_spread_are_kept_then_padded_to_the_devices() {
        // Groups of 2: [1,1] uniform, [0,3] spread, [2,2] uniform, [1,0] spread.
        let rewards = [1.0, 1.0, 0.0, 3.0, 2.0, 2.0, 1.0, 0.0];
        assert_eq!(informative_groups(&rewards, 2, 1), [1, 3]);
        assert_eq!(informative_groups(&rewards, 2, 4), [1, 3]);
        // Two rows do not split over 4 devices: the first uniform group comes back.
        assert_eq!(informative_groups(&rewards[..6], 2, 4), [0, 1]);
        // Nothing to learn from: every group stays (a KL-only update, as without dropping).
        assert_eq!(informative_groups(&[1.0, 1.0, 2.0, 2.0], 2, 1), [0, 1]);
        // Dropped groups have zero advantages.
        let adv = advantages(&rewards, 2, Estimator::Grpo, 1e-6);
        assert!(adv[0] == 0.0 && adv[1] == 0.0 && adv[4] == 0.0 && adv[5] == 0.0);
    }
}
