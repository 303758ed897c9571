//! LoRA: a trainable low-rank update A·B added to chosen weights (scaled by α/r), the base
//! frozen, as the Tunix demo sets it up with qwix (targets q/kv/attn_vec einsums and the MLP).
//! The same frozen base serves as the reference policy.

use crate::graph::{HostArray, Tensor};
use crate::models::gemma::{GemmaConfig, GemmaWeights};
use crate::models::layers::LowRank;

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    pub rank: i64,
    pub alpha: f64,
    /// Parameter name suffixes to adapt (Tunix names, e.g. `q_einsum`, `gate_proj`).
    #[serde(default = "default_targets")]
    pub targets: Vec<String>,
}

impl LoraConfig {
    /// The factor on A·B: α/r.
    pub fn scale(&self) -> f64 {
        self.alpha / self.rank as f64
    }
}

pub fn default_targets() -> Vec<String> {
    [
        "q_einsum",
        "kv_einsum",
        "attn_vec_einsum",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// One adapted weight: W (as laid out) gets reshape/transpose(A [in, r] · B [r, out]).
///
/// `in` and `out` flatten W's input and output axes row-major in W's own axis order: for
/// q_einsum [N, D, H], out = (N, H) with index n·H + h; for kv_einsum [2, K, D, H],
/// out = (2, K, H); for attn_vec_einsum [N, H, D], in = (N, H). qwix keeps those axes unflattened
/// (`export_a_dims`, `export_b_dims`), in the same order, so the data is the same either way.
#[derive(Clone, Debug)]
pub struct LoraSpec {
    /// Index of the adapted parameter in `param_specs`.
    pub param: usize,
    pub name: String,
    pub a_dims: Vec<i64>,
    pub b_dims: Vec<i64>,
    /// A·B is [in, out]; reshape to these dims, then transpose by `perm` to W's layout.
    pub delta_dims: Vec<i64>,
    pub perm: Vec<i64>,
    /// The shapes qwix's `LoraProvider` gives `<w>_lora_a` and `<w>_lora_b` for this weight in
    /// Tunix's Gemma (einsum: A over the contracted axes, B over the others; nnx.Linear: 2-D).
    pub export_a_dims: Vec<i64>,
    pub export_b_dims: Vec<i64>,
}

pub fn specs(cfg: &GemmaConfig, lora: &LoraConfig) -> Vec<LoraSpec> {
    let r = lora.rank;
    cfg.param_specs()
        .iter()
        .enumerate()
        .filter(|(_, (name, _))| lora.targets.iter().any(|t| name.contains(t.as_str())))
        .map(|(param, (name, dims))| {
            // (in axes, out axes) of W, each in W's axis order; then how [in..., out...] is
            // transposed back to W's layout.
            let (inp, out, perm): (Vec<i64>, Vec<i64>, Vec<i64>) = if name.ends_with("q_einsum.w") {
                // [N, D, H] ('BTD,NDH->BTNH'): in D, out (N, H)
                (vec![dims[1]], vec![dims[0], dims[2]], vec![1, 0, 2])
            } else if name.ends_with("kv_einsum.w") {
                // [2, K, D, H] ('BSD,CKDH->CBSKH'): in D, out (2, K, H)
                (
                    vec![dims[2]],
                    vec![dims[0], dims[1], dims[3]],
                    vec![1, 2, 0, 3],
                )
            } else if name.ends_with("attn_vec_einsum.w") {
                // [N, H, D] ('BTNH,NHD->BTD'): in (N, H), out D
                (vec![dims[0], dims[1]], vec![dims[2]], vec![0, 1, 2])
            } else {
                // MLP kernels [in, out]
                (vec![dims[0]], vec![dims[1]], vec![0, 1])
            };
            let product = |v: &[i64]| v.iter().product::<i64>();
            LoraSpec {
                param,
                name: name.clone(),
                a_dims: vec![product(&inp), r],
                b_dims: vec![r, product(&out)],
                delta_dims: [inp.clone(), out.clone()].concat(),
                perm,
                export_a_dims: [inp, vec![r]].concat(),
                export_b_dims: [vec![r], out].concat(),
            }
        })
        .collect()
}

/// Declares the A and B matrices of every adapted weight as parameters of `g` (f32), in order.
pub fn parameters(g: &crate::graph::Graph, specs: &[LoraSpec]) -> Vec<Tensor> {
    specs
        .iter()
        .flat_map(|s| {
            [
                g.parameter(
                    &format!("{}_lora_a", s.name),
                    crate::graph::Shape::f32(&s.a_dims),
                ),
                g.parameter(
                    &format!("{}_lora_b", s.name),
                    crate::graph::Shape::f32(&s.b_dims),
                ),
            ]
        })
        .collect()
}

/// The base weights with every adapted one replaced by W + (α/r)·A·B.
pub fn merged(
    base: &[Tensor],
    ab: &[Tensor],
    specs: &[LoraSpec],
    lora: &LoraConfig,
) -> Vec<Tensor> {
    let mut weights = base.to_vec();
    let scale = lora.scale();
    for (k, s) in specs.iter().enumerate() {
        let (a, b) = (&ab[2 * k], &ab[2 * k + 1]);
        let delta = a.matmul(b).reshape(&s.delta_dims);
        let identity: Vec<i64> = (0..s.perm.len() as i64).collect();
        let delta = if s.perm == identity {
            delta
        } else {
            delta.transpose(&s.perm)
        };
        let w = &weights[s.param];
        weights[s.param] = w + &(delta * scale).convert(w.ty());
    }
    weights
}

/// The base weights with every adapted projection computing x·W + (α/r)·(x·A)·B: the same
/// function as `merged`, at a fraction of its gradient's cost (see `Weight::project`).
pub fn attach(
    mut weights: GemmaWeights,
    ab: &[Tensor],
    specs: &[LoraSpec],
    lora: &LoraConfig,
) -> GemmaWeights {
    let scale = lora.scale();
    for (k, s) in specs.iter().enumerate() {
        let w = weights
            .projection_mut(&s.name)
            .unwrap_or_else(|| panic!("LoRA target {} is not a projection", s.name));
        w.lora = Some(LowRank {
            a: ab[2 * k].clone(),
            b: ab[2 * k + 1].clone(),
            scale,
        });
    }
    weights
}

/// The adapters under qwix's names and shapes (`<param>_lora_a`, `<param>_lora_b`), as Tunix's
/// LoRA model holds them: `arrays` are A, B per spec in our 2-D shapes; only the dims change.
pub fn export(specs: &[LoraSpec], arrays: &[HostArray]) -> Vec<(String, HostArray)> {
    assert_eq!(
        arrays.len(),
        2 * specs.len(),
        "an A and a B per adapted weight"
    );
    specs
        .iter()
        .zip(arrays.chunks(2))
        .flat_map(|(s, ab)| {
            let shaped = |a: &HostArray, dims: &[i64]| {
                assert_eq!(
                    a.dims.iter().product::<i64>(),
                    dims.iter().product::<i64>(),
                    "{}: {:?} cannot become {dims:?}",
                    s.name,
                    a.dims
                );
                HostArray {
                    dims: dims.to_vec(),
                    ..a.clone()
                }
            };
            [
                (
                    format!("{}_lora_a", s.name),
                    shaped(&ab[0], &s.export_a_dims),
                ),
                (
                    format!("{}_lora_b", s.name),
                    shaped(&ab[1], &s.export_b_dims),
                ),
            ]
        })
        .collect()
}

/// Initial A (small, seeded, He-uniform-like) and B (zeros), so training starts at the base model.
pub fn init(specs: &[LoraSpec], seed: u64) -> Vec<Vec<f32>> {
    let mut rng = crate::rng::Lcg::from_state(seed ^ 0x5851_f42d_4c95_7f2d);
    specs
        .iter()
        .flat_map(|s| {
            let bound = (1.0 / s.a_dims[0] as f32).sqrt();
            let a: Vec<f32> = (0..s.a_dims.iter().product::<i64>())
                .map(|_| rng.next_signed_unit() * bound)
                .collect();
            let b = vec![0f32; s.b_dims.iter().product::<i64>() as usize];
            [a, b]
        })
        .collect()
}
