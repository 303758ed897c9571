//! The sampler every rollout draws through (`rollout::sampling::sample`), against the
//! distribution it must draw from: softmax(logits / T), restricted to the top k and to the
//! smallest prefix (by probability) whose mass reaches top_p, renormalised — computed here on
//! the host in f64. 30,000 draws per case with a fixed seed; Pearson's chi-square must stay
//! below the 0.999 quantile for its degrees of freedom, tokens outside the kept set must never
//! appear, and the returned log-prob is log softmax(logits / T) of the token drawn.

mod common;

use common::{cpu_client, values};
use grpo_xla::graph::{Graph, HostArray, Shape};
use grpo_xla::pjrt::ElementType;
use grpo_xla::rollout::sampling::{sample, top_k_log_probs, SamplerShape};

const DRAWS: i64 = 30_000;
const LOGITS: [f64; 8] = [1.3, -0.4, 2.1, 0.2, -1.7, 0.9, 1.6, -0.9];

/// The 0.999 quantile of chi-square with `df` degrees of freedom.
fn chi2_999(df: usize) -> f64 {
    [0.0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46, 24.32][df]
}

/// The distribution the sampler must draw from, in f64.
fn expected(temperature: f64, top_k: Option<usize>, top_p: f64) -> Vec<f64> {
    let scaled: Vec<f64> = LOGITS.iter().map(|l| l / temperature).collect();
    let max = scaled.iter().cloned().fold(f64::MIN, f64::max);
    let z: f64 = scaled.iter().map(|s| (s - max).exp()).sum();
    let p: Vec<f64> = scaled.iter().map(|s| (s - max).exp() / z).collect();
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].partial_cmp(&p[a]).unwrap());
    let mut kept = vec![false; p.len()];
    let mut mass_before = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        if top_k.is_some_and(|k| rank >= k) || mass_before > top_p {
            break;
        }
        kept[i] = true;
        mass_before += p[i];
    }
    let total: f64 = (0..p.len()).filter(|&i| kept[i]).map(|i| p[i]).sum();
    (0..p.len())
        .map(|i| if kept[i] { p[i] / total } else { 0.0 })
        .collect()
}

fn draw(temperature: f32, top_k: Option<i64>, top_p: f32, seed: u64) -> (Vec<i32>, Vec<f32>) {
    let v = LOGITS.len() as i64;
    let g = Graph::new("sample");
    let logits = g.parameter("logits", Shape::f32(&[1, v]));
    let rng = g.parameter("rng", Shape::new(ElementType::U64, &[2]));
    let t = g.parameter("temperature", Shape::f32(&[]));
    let p = g.parameter("top_p", Shape::f32(&[]));
    let rows = logits.broadcast_to(&[DRAWS, v]);
    let shape = SamplerShape {
        greedy: false,
        top_k,
        top_p: top_p < 1.0,
    };
    // The sampler reads logits vocabulary first, as the decode program's head writes them.
    let (_, tokens, logps) = sample(&g, &rows.transpose(&[1, 0]), &rng, &t, &p, shape, &[]);
    let out = g
        .build(&[tokens, logps])
        .unwrap()
        .run(
            &cpu_client(1),
            &[
                HostArray::new(
                    &LOGITS.iter().map(|&l| l as f32).collect::<Vec<_>>(),
                    &[1, v],
                ),
                HostArray::new(&[seed, 0x9e37_79b9_7f4a_7c15u64], &[2]),
                HostArray::scalar(temperature),
                HostArray::scalar(top_p),
            ],
        )
        .unwrap();
    (out[0].to_vec::<i32>(), out[1].to_vec::<f32>())
}

fn check(temperature: f32, top_k: Option<usize>, top_p: f32) {
    let want = expected(temperature as f64, top_k, top_p as f64);
    let (tokens, logps) = draw(temperature, top_k.map(|k| k as i64), top_p, 42);
    let mut counts = vec![0usize; LOGITS.len()];
    for &t in &tokens {
        counts[t as usize] += 1;
    }
    let mut chi2 = 0.0;
    let mut df = 0;
    for (i, (&c, &p)) in counts.iter().zip(&want).enumerate() {
        if p == 0.0 {
            assert_eq!(
                c, 0,
                "token {i} is outside the kept set but was drawn {c} times"
            );
            continue;
        }
        let e = p * DRAWS as f64;
        chi2 += (c as f64 - e).powi(2) / e;
        df += 1;
    }
    df -= 1;
    eprintln!("T {temperature} top_k {top_k:?} top_p {top_p}: kept {} tokens, chi2 {chi2:.2} (df {df}, limit {})", df + 1, chi2_999(df));
    assert!(
        chi2 < chi2_999(df),
        "T {temperature}, top_k {top_k:?}, top_p {top_p}: counts {counts:?} vs expected {want:?} (chi2 {chi2:.1})"
    );
    // The log-prob is of the temperature-scaled, untruncated distribution.
    let scaled: Vec<f64> = LOGITS.iter().map(|l| l / temperature as f64).collect();
    let max = scaled.iter().cloned().fold(f64::MIN, f64::max);
    let lse = max + scaled.iter().map(|s| (s - max).exp()).sum::<f64>().ln();
    for (&t, &lp) in tokens.iter().zip(&logps).take(100) {
        assert!((lp as f64 - (scaled[t as usize] - lse)).abs() < 1e-5);
    }
}

#[test]
fn plain_temperature_sampling_draws_from_the_softmax() {
    check(1.0, None, 1.0);
    check(0.5, None, 1.0);
    check(2.0, None, 1.0);
}

#[test]
fn top_k_keeps_the_k_most_likely_tokens() {
    check(1.0, Some(3), 1.0);
    check(2.0, Some(5), 1.0);
}

#[test]
fn top_p_keeps_the_smallest_prefix_reaching_p() {
    check(1.0, None, 0.8);
    check(0.7, Some(5), 0.9);
    check(1.5, None, 0.5);
}

#[test]
fn a_wrong_temperature_would_be_caught() {
    // The check itself has power: samples at T = 1 fail against the T = 0.7 distribution.
    let want = expected(0.7, None, 1.0);
    let (tokens, _) = draw(1.0, None, 1.0, 42);
    let mut counts = vec![0usize; LOGITS.len()];
    for &t in &tokens {
        counts[t as usize] += 1;
    }
    let chi2: f64 = counts
        .iter()
        .zip(&want)
        .map(|(&c, &p)| (c as f64 - p * DRAWS as f64).powi(2) / (p * DRAWS as f64))
        .sum();
    assert!(chi2 > chi2_999(7), "chi2 {chi2}");
}

/// The blocked top-k against a sort of each column on the host: the same ids in the same order
/// (ties to the lower id, here across blocks of 13) and log-probs under the whole softmax.
#[test]
fn top_k_by_blocks_equals_a_full_sort() {
    let (v, b, k) = (260usize, 3usize, 6i64);
    let mut data: Vec<f32> = values(v * b, 7).iter().map(|x| x * 4.0).collect();
    // Column 0: three equal maxima in different blocks (rows 3, 100, 250); column 1: a tie
    // inside one block (rows 27 and 30), just below its maximum; column 2: a tie between a
    // block with a larger maximum (rows 200, 201) and an earlier block (row 10).
    for (row, col, value) in [
        (3, 0, 5.0),
        (100, 0, 5.0),
        (250, 0, 5.0),
        (26, 1, 6.0),
        (200, 2, 6.0),
        (201, 2, 5.0),
        (10, 2, 5.0),
    ] {
        data[row * b + col] = value;
    }
    for row in [27, 30] {
        data[row * b + 1] = 5.5;
    }
    let g = Graph::new("top_k");
    let x = g.parameter("x", Shape::f32(&[v as i64, b as i64]));
    let (logp, ids) = top_k_log_probs(&x, k, &[]);
    let out = g
        .build(&[logp, ids])
        .unwrap()
        .run(
            &cpu_client(1),
            &[HostArray::new(&data, &[v as i64, b as i64])],
        )
        .unwrap();
    let (logp, ids) = (out[0].to_vec::<f32>(), out[1].to_vec::<i32>());
    for col in 0..b {
        let column: Vec<f64> = (0..v).map(|r| data[r * b + col] as f64).collect();
        let max = column.iter().cloned().fold(f64::MIN, f64::max);
        let log_norm = max + column.iter().map(|x| (x - max).exp()).sum::<f64>().ln();
        let mut order: Vec<usize> = (0..v).collect();
        order.sort_by(|&a, &c| column[c].total_cmp(&column[a]).then(a.cmp(&c)));
        let k = k as usize;
        let want: Vec<i32> = order[..k].iter().map(|&i| i as i32).collect();
        assert_eq!(
            &ids[col * k..(col + 1) * k],
            want.as_slice(),
            "column {col}"
        );
        for (j, &i) in order[..k].iter().enumerate() {
            let got = logp[col * k + j] as f64;
            assert!(
                (got - (column[i] - log_norm)).abs() < 1e-5,
                "column {col}: {got}"
            );
        }
    }
    assert_eq!(&ids[..3], &[3, 100, 250]);
    assert_eq!(&ids[6..9], &[26, 27, 30]);
    assert_eq!(&ids[12..15], &[200, 10, 201]);
}
