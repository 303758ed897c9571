//! The two generation programs. `prefill` reads the prompts, fills the KV cache and samples the
//! first token; `decode` runs up to `chunk` more steps in an on-device while loop. The decode
//! state (cache and sampler state) goes in and comes back out, donated, so a long generation is
//! one call per chunk with no copies.

use crate::graph::{Graph, Module, Shape, Tensor};
use crate::models::gemma::{
    embed, forward_cached, logits, positions_from_mask, GemmaConfig, GemmaWeights, KvCache,
};
use crate::pjrt::ElementType;

use super::sampling::{sample, SamplerShape};

/// What one compiled pair of programs is specialised to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    pub batch: i64,
    pub prompt_len: i64,
    /// Cache slots: prompt_len + the most tokens generated.
    pub slots: i64,
    pub chunk: i64,
    pub sampler: SamplerShape,
}

/// The decode state, in this order, after the model parameters:
/// caches (keys, values per layer, slot positions), step (i32: tokens generated so far),
/// token [B] (last sampled), position [B] (of that token), rng, done [B] (i32 0/1),
/// lengths [B] (tokens generated, stop token included).
pub fn state_len(cfg: &GemmaConfig) -> usize {
    2 * cfg.num_layers + 1 + 6
}

struct Runtime {
    temperature: Tensor,
    top_p: Tensor,
}

fn runtime_params(g: &Graph) -> Runtime {
    Runtime {
        temperature: g.parameter("temperature", Shape::f32(&[])),
        top_p: g.parameter("top_p", Shape::f32(&[])),
    }
}

/// 1 where `token` is a stop token, else 0.
fn is_stop(token: &Tensor, stops: &[u32]) -> Tensor {
    let mut hit = token.zeros_like().convert(ElementType::Pred);
    for &s in stops {
        hit = hit.or(&token.eq(&token.scalar_like(s as f64)));
    }
    hit.convert(ElementType::S32)
}

/// params, prompt [B, T] i32, valid [B, T] i32, rng, temperature, top_p → state, first token's log-prob [B].
pub fn prefill(cfg: &GemmaConfig, bucket: &Bucket, stops: &[u32]) -> Module {
    let g = Graph::new("prefill");
    let (w, _) = GemmaWeights::parameters(&g, cfg);
    let (b, t) = (bucket.batch, bucket.prompt_len);
    let prompt = g.parameter("prompt", Shape::i32(&[b, t]));
    let valid = g.parameter("valid", Shape::i32(&[b, t]));
    let rng = g.parameter("rng", Shape::new(ElementType::U64, &[2]));
    let rt = runtime_params(&g);
    let (positions, key_positions) = positions_from_mask(&valid);
    let cache = KvCache::empty(&g, cfg, b, bucket.slots);
    let start = g.scalar(0.0, ElementType::S32);
    let (hidden, cache) = forward_cached(
        cfg,
        &w,
        &embed(cfg, &w, &prompt),
        &positions,
        &key_positions,
        &cache,
        &start,
    );
    // Left padding: every prompt's last token is in the last column.
    let last = hidden.narrow(1, t - 1, 1).reshape(&[b, cfg.embed_dim]);
    let l = logits(cfg, &w, &last).convert(ElementType::F32);
    let (rng, token, logp) = sample(&g, &l, &rng, &rt.temperature, &rt.top_p, bucket.sampler);
    let position = positions.narrow(1, t - 1, 1).reshape(&[b]) + 1.0;
    let done = is_stop(&token, stops);
    let step = g.scalar(1.0, ElementType::S32);
    let lengths = g.full(1.0, Shape::i32(&[b]));
    let state = [
        cache.to_vec(),
        vec![step, token, position, rng, done, lengths],
    ]
    .concat();
    g.build(&[state, vec![logp]].concat())
        .expect("the prefill program is well-formed")
}

/// params, state, temperature, top_p, limit (i32: stop after this many tokens in total) →
/// state, tokens [B, chunk] (0 after a sequence is done), log-probs [B, chunk].
pub fn decode(cfg: &GemmaConfig, bucket: &Bucket, stops: &[u32]) -> Module {
    let g = Graph::new("decode");
    let (w, params) = GemmaWeights::parameters(&g, cfg);
    let b = bucket.batch;
    let layers = cfg.num_layers;
    let kv = Shape::new(
        cfg.dtype,
        &[b, bucket.slots, cfg.num_kv_heads, cfg.head_dim],
    );
    let mut state: Vec<Tensor> = (0..2 * layers)
        .map(|i| g.parameter(&format!("cache{i}"), kv.clone()))
        .collect();
    state.push(g.parameter("slot_positions", Shape::i32(&[b, bucket.slots])));
    state.push(g.parameter("step", Shape::i32(&[])));
    state.push(g.parameter("token", Shape::i32(&[b])));
    state.push(g.parameter("position", Shape::i32(&[b])));
    state.push(g.parameter("rng", Shape::new(ElementType::U64, &[2])));
    state.push(g.parameter("done", Shape::i32(&[b])));
    state.push(g.parameter("lengths", Shape::i32(&[b])));
    let rt = runtime_params(&g);
    let limit = g.parameter("limit", Shape::i32(&[]));
    for (i, s) in state.iter().enumerate() {
        g.donate_parameter(s, i);
    }
    let chunk = bucket.chunk;
    let n = state.len();
    let i0 = g.scalar(0.0, ElementType::S32);
    let tokens0 = g.zeros(Shape::i32(&[b, chunk]));
    let logps0 = g.zeros(Shape::f32(&[b, chunk]));
    let init = [state.clone(), vec![i0, tokens0, logps0]].concat();
    let out = g.while_loop(
        &init,
        |s| {
            let (step, done, i) = (&s[n - 6], &s[n - 2], &s[n]);
            let more = i.lt(&i.scalar_like(chunk as f64)).and(&step.lt(&limit));
            let all_done = done.min(&[0], false).gt(&done.scalar_like(0.0));
            more.and(&all_done.logical_not())
        },
        |s| {
            let cache = KvCache::from_slice(&s[..2 * layers + 1], layers);
            let (step, token, position, rng, done, lengths) = (
                &s[n - 6],
                &s[n - 5],
                &s[n - 4],
                &s[n - 3],
                &s[n - 2],
                &s[n - 1],
            );
            let (i, tokens, logps) = (&s[n], &s[n + 1], &s[n + 2]);
            let x = embed(cfg, &w, &token.reshape(&[b, 1]));
            let pos = position.reshape(&[b, 1]);
            // The token sampled at step k sits in cache slot prompt_len + k - 1.
            let slot = step + (bucket.prompt_len - 1) as f64;
            let (hidden, cache) = forward_cached(cfg, &w, &x, &pos, &pos, &cache, &slot);
            let l = logits(cfg, &w, &hidden.reshape(&[b, cfg.embed_dim])).convert(ElementType::F32);
            let (rng, next, logp) = sample(&g, &l, rng, &rt.temperature, &rt.top_p, bucket.sampler);
            let finished = done.gt(&done.scalar_like(0.0));
            let next = finished.select(&next.zeros_like(), &next);
            let logp = finished.select(&logp.zeros_like(), &logp);
            let zero = i.scalar_like(0.0);
            let tokens =
                tokens.dynamic_update_slice(&next.reshape(&[b, 1]), &[zero.clone(), i.clone()]);
            let logps = logps.dynamic_update_slice(&logp.reshape(&[b, 1]), &[zero, i.clone()]);
            let lengths = lengths + &(-done + 1.0);
            let done = done.maximum(&is_stop(&next, stops));
            [
                cache.to_vec(),
                vec![
                    step + 1.0,
                    next,
                    position + 1.0,
                    rng,
                    done,
                    lengths,
                    i + 1.0,
                    tokens,
                    logps,
                ],
            ]
            .concat()
        },
    );
    let _ = params;
    g.build(
        &out[..n + 3]
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != n)
            .map(|(_, t)| t.clone())
            .collect::<Vec<_>>(),
    )
    .expect("the decode program is well-formed")
}
