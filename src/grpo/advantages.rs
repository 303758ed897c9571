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
