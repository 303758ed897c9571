//! The two generation programs. `prefill` reads the prompts, fills the KV cache and samples the
//! first token; `decode` runs up to `chunk` more steps in an on-device while loop. The decode
//! state (cache and sampler state) goes in and comes back out, donated, so a long generation is
//! one call per chunk with no copies. Inputs and outputs are named structs: the order the
//! programs use is written once, in `DecodeState::{to_vec, from_vec}` and the `call`s below.

use std::sync::Arc;

use crate::graph::{
    DeviceArray, Graph, In, Layout, Module, Placement, Program, Shape, Sharding, Tensor,
};
use crate::grpo::programs::{finish, place};
use crate::models::gemma::{
    embed, forward_cached, logits_vocab_major, positions_from_mask, GemmaConfig, GemmaWeights,
    KvCache, WeightOrder,
};
use crate::pjrt::{ElementType, Result};

use super::sampling::{sample, SamplerShape};

/// What one compiled pair of programs is specialised to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bucket {
    pub batch: i64,
    /// Consecutive rows that sample the same prompt: the prefill reads `batch / samples`
    /// prompts and copies each one's cache to its rows (1: every row prefilled on its own).
    pub samples: i64,
    pub prompt_len: i64,
    /// Cache slots: prompt_len + the most tokens generated.
    pub slots: i64,
    pub chunk: i64,
    pub sampler: SamplerShape,
}

/// Everything decoding carries from one call to the next: graph tensors inside the programs,
/// device buffers between calls.
pub struct DecodeState<T> {
    /// Keys and values per layer, then slot positions (`KvCache::to_vec`).
    pub cache: Vec<T>,
    /// Tokens generated so far (i32 scalar).
    pub step: T,
    /// The last sampled token [B].
    pub token: T,
    /// Its position [B].
    pub position: T,
    /// Threefry state (u64 [2]).
    pub rng: T,
    /// 1 once a row produced a stop token [B].
    pub done: T,
    /// Tokens generated per row, the stop token included [B].
    pub lengths: T,
}

impl<T: Clone> DecodeState<T> {
    pub fn to_vec(&self) -> Vec<T> {
        let mut v = self.cache.clone();
        v.extend([
            self.step.clone(),
            self.token.clone(),
            self.position.clone(),
            self.rng.clone(),
            self.done.clone(),
            self.lengths.clone(),
        ]);
        v
    }
}

impl<T> DecodeState<T> {
    pub fn into_vec(self) -> Vec<T> {
        let mut v = self.cache;
        v.extend([
            self.step,
            self.token,
            self.position,
            self.rng,
            self.done,
            self.lengths,
        ]);
        v
    }

    /// The inverse of `into_vec`; takes `cache_len + 6` items from the front of `items`.
    pub fn from_vec(items: &mut Vec<T>, cache_len: usize) -> DecodeState<T> {
        let mut rest = items.drain(..cache_len + 6);
        let cache: Vec<T> = rest.by_ref().take(cache_len).collect();
        let mut next = || rest.next().expect("decode state is complete");
        DecodeState {
            cache,
            step: next(),
            token: next(),
            position: next(),
            rng: next(),
            done: next(),
            lengths: next(),
        }
    }
}

impl DecodeState<Sharding> {
    /// How the state is laid out: rows split over the devices; the step and rng replicated.
    fn layout(layout: &Layout, cfg: &GemmaConfig) -> DecodeState<Sharding> {
        let rank = KvCache::value_shape(cfg, 1, 1).dims.len();
        let mut cache = vec![layout.batch(rank); 2 * cfg.num_layers];
        cache.push(layout.batch(2));
        DecodeState {
            cache,
            step: Sharding::replicated(0),
            token: layout.batch(1),
            position: layout.batch(1),
            rng: Sharding::replicated(1),
            done: layout.batch(1),
            lengths: layout.batch(1),
        }
    }
}

/// Sampling values that may change without recompiling.
pub struct Knobs<T> {
    /// f32 scalar.
    pub temperature: T,
    /// f32 scalar.
    pub top_p: T,
}

fn knob_parameters(g: &Graph) -> Knobs<Tensor> {
    Knobs {
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

/// The prompts of one prefill call: left-padded ids [B / samples, T] i32, their validity
/// [B / samples, T] i32 and the sampler's starting rng (u64 [2]).
pub struct PrefillInputs<T> {
    pub prompt: T,
    pub valid: T,
    pub rng: T,
}

/// Prefill: params, prompt, valid, rng, knobs → decode state, first token's log-prob [B].
/// Each prompt is read once; its G samples start from copies of its cache (GRPO's groups: a
/// G-th of the prefill work).
pub fn prefill(cfg: &GemmaConfig, bucket: &Bucket, stops: &[u32], layout: &Layout) -> Module {
    let g = Graph::new("prefill");
    let (w, _) = GemmaWeights::parameters(&g, cfg);
    let (b, t, samples) = (bucket.batch, bucket.prompt_len, bucket.samples);
    let prompts = b / samples;
    let inputs = PrefillInputs {
        prompt: g.parameter("prompt", Shape::i32(&[prompts, t])),
        valid: g.parameter("valid", Shape::i32(&[prompts, t])),
        rng: g.parameter("rng", Shape::new(ElementType::U64, &[2])),
    };
    place(&g, layout, &[&inputs.prompt, &inputs.valid], |t| {
        layout.batch(t.rank())
    });
    let knobs = knob_parameters(&g);
    let (positions, key_positions) = positions_from_mask(&inputs.valid);
    let cache = KvCache::empty(&g, cfg, prompts, bucket.slots);
    let start = g.scalar(0.0, ElementType::S32);
    let (hidden, cache) = forward_cached(
        cfg,
        &w,
        &embed(cfg, &w, &inputs.prompt),
        &positions,
        &key_positions,
        &cache,
        &start,
    );
    let cache = cache.repeat_rows(prompts, samples);
    // Left padding: every prompt's last token is in the last column.
    let last = hidden
        .narrow(1, t - 1, 1)
        .reshape(&[prompts, cfg.embed_dim])
        .repeat_groups(prompts, samples);
    let last_position = positions.narrow(1, t - 1, 1).reshape(&[prompts]);
    let l = logits_vocab_major(cfg, &w, &last).convert(ElementType::F32);
    let (rng, token, logp) = sample(
        &g,
        &l,
        &inputs.rng,
        &knobs.temperature,
        &knobs.top_p,
        bucket.sampler,
        &layout.batch_axes(),
    );
    let state = DecodeState {
        cache: cache.to_vec(),
        step: g.scalar(1.0, ElementType::S32),
        position: last_position.repeat_groups(prompts, samples) + 1.0,
        done: is_stop(&token, stops),
        token,
        rng,
        lengths: g.full(1.0, Shape::i32(&[b])),
    };
    let mut results = state.into_vec();
    results.push(logp);
    let mut shardings = DecodeState::layout(layout, cfg).into_vec();
    shardings.push(layout.batch(1));
    finish(&g, &results, shardings, layout)
}

/// What a decode call returns: the state to pass on, and the chunk's tokens and log-probs
/// [B, chunk] (0 after a row is done).
pub struct DecodeOutputs<T> {
    pub state: DecodeState<T>,
    pub tokens: T,
    pub logps: T,
}

fn decode_state_parameters(g: &Graph, cfg: &GemmaConfig, bucket: &Bucket) -> DecodeState<Tensor> {
    let b = bucket.batch;
    let (k, v) = (
        KvCache::key_shape(cfg, b, bucket.slots),
        KvCache::value_shape(cfg, b, bucket.slots),
    );
    // As `KvCache::to_vec` orders them: every layer's keys, then every layer's values.
    let mut cache: Vec<Tensor> = (0..2 * cfg.num_layers)
        .map(|i| {
            let shape = if i < cfg.num_layers { &k } else { &v };
            g.parameter(&format!("cache{i}"), shape.clone())
        })
        .collect();
    cache.push(g.parameter("slot_positions", Shape::i32(&[b, bucket.slots])));
    DecodeState {
        cache,
        step: g.parameter("step", Shape::i32(&[])),
        token: g.parameter("token", Shape::i32(&[b])),
        position: g.parameter("position", Shape::i32(&[b])),
        rng: g.parameter("rng", Shape::new(ElementType::U64, &[2])),
        done: g.parameter("done", Shape::i32(&[b])),
        lengths: g.parameter("lengths", Shape::i32(&[b])),
    }
}

/// One token step inside the decode loop.
fn decode_step(
    cfg: &GemmaConfig,
    w: &GemmaWeights,
    bucket: &Bucket,
    stops: &[u32],
    knobs: &Knobs<Tensor>,
    s: &DecodeState<Tensor>,
    rows_over: &[String],
) -> (DecodeState<Tensor>, Tensor, Tensor) {
    let b = bucket.batch;
    let g = s.step.graph();
    let cache = KvCache::from_slice(&s.cache, cfg.num_layers);
    let x = embed(cfg, w, &s.token.reshape(&[b, 1]));
    let pos = s.position.reshape(&[b, 1]);
    // The token sampled at step k sits in cache slot prompt_len + k - 1.
    let slot = &s.step + (bucket.prompt_len - 1) as f64;
    let (hidden, cache) = forward_cached(cfg, w, &x, &pos, &pos, &cache, &slot);
    let l =
        logits_vocab_major(cfg, w, &hidden.reshape(&[b, cfg.embed_dim])).convert(ElementType::F32);
    let (rng, next, logp) = sample(
        g,
        &l,
        &s.rng,
        &knobs.temperature,
        &knobs.top_p,
        bucket.sampler,
        rows_over,
    );
    let finished = s.done.gt(&s.done.scalar_like(0.0));
    let next = finished.select(&next.zeros_like(), &next);
    let logp = finished.select(&logp.zeros_like(), &logp);
    let state = DecodeState {
        cache: cache.to_vec(),
        step: &s.step + 1.0,
        position: &s.position + 1.0,
        rng,
        done: s.done.maximum(&is_stop(&next, stops)),
        lengths: &s.lengths + &(-&s.done + 1.0),
        token: next.clone(),
    };
    (state, next, logp)
}

/// Decode steps between looks at whether every row is done, when rows are split over devices:
/// each look is an all-reduce, a rendezvous of every device per token otherwise.
const DONE_CHECK_EVERY: i64 = 4;

/// `while more(s) && go_on(s) { s = step(s) }` where `go_on` is costly (an all-reduce over the
/// devices' rows): an outer loop tests it around an inner loop of up to DONE_CHECK_EVERY steps
/// that tests only `more`. The steps run after `go_on` turns false must be harmless (decode's
/// are masked for rows already done).
fn loop_checking_rarely(
    g: &Graph,
    init: &[Tensor],
    more: impl Fn(&[Tensor]) -> Tensor,
    go_on: impl Fn(&[Tensor]) -> Tensor,
    step: impl Fn(&[Tensor]) -> Vec<Tensor>,
) -> Vec<Tensor> {
    g.while_loop(
        init,
        |carry| more(carry).and(&go_on(carry)),
        |carry| {
            let mut inner = carry.to_vec();
            inner.push(g.scalar(0.0, ElementType::S32));
            let mut out = g.while_loop(
                &inner,
                |c| {
                    let (state, j) = c.split_at(c.len() - 1);
                    more(state).and(&j[0].lt(&j[0].scalar_like(DONE_CHECK_EVERY as f64)))
                },
                |c| {
                    let (state, j) = c.split_at(c.len() - 1);
                    let mut next = step(state);
                    next.push(&j[0] + 1.0);
                    next
                },
            );
            out.pop();
            out
        },
    )
}

/// Decode: params, state, knobs, limit (i32: stop after this many tokens in total) → outputs.
/// `order`: how the loop reads the weights (`WeightOrder::for_platform`).
pub fn decode(
    cfg: &GemmaConfig,
    bucket: &Bucket,
    stops: &[u32],
    layout: &Layout,
    order: WeightOrder,
) -> Module {
    let g = Graph::new("decode");
    let (w, _) = GemmaWeights::parameters(&g, cfg);
    let w = w.for_decoding(order);
    let b = bucket.batch;
    let state = decode_state_parameters(&g, cfg, bucket);
    let state_layout = DecodeState::layout(layout, cfg).into_vec();
    for (t, s) in state.to_vec().iter().zip(&state_layout) {
        place(&g, layout, &[t], |_| s.clone());
    }
    let knobs = knob_parameters(&g);
    let limit = g.parameter("limit", Shape::i32(&[]));
    let state = state.into_vec();
    for (i, s) in state.iter().enumerate() {
        g.donate_parameter(s, i);
    }
    let chunk = bucket.chunk;
    let n = state.len();
    let cache_len = KvCache::tensor_count(cfg);
    let rows_over = layout.batch_axes();
    // Loop carry: the decode state, then the step within this chunk and the chunk's outputs.
    let mut init = state;
    init.extend([
        g.scalar(0.0, ElementType::S32),
        g.zeros(Shape::i32(&[b, chunk])),
        g.zeros(Shape::f32(&[b, chunk])),
    ]);
    // Continue while this chunk has steps left and the total is under the limit: scalars every
    // device holds alike, so testing them needs no other device.
    let more = |carry: &[Tensor]| {
        let s = DecodeState::from_vec(&mut carry.to_vec(), cache_len);
        let i = &carry[n];
        i.lt(&i.scalar_like(chunk as f64)).and(&s.step.lt(&limit))
    };
    // Stop early once every row is done: over a batch split across devices, an all-reduce.
    let some_row_running = |carry: &[Tensor]| {
        let s = DecodeState::from_vec(&mut carry.to_vec(), cache_len);
        let all_done = s.done.min(&[0], false).gt(&s.done.scalar_like(0.0));
        all_done.logical_not()
    };
    let step = |carry: &[Tensor]| {
        let s = DecodeState::from_vec(&mut carry.to_vec(), cache_len);
        let (i, tokens, logps) = (&carry[n], &carry[n + 1], &carry[n + 2]);
        let (state, next, logp) = decode_step(cfg, &w, bucket, stops, &knobs, &s, &rows_over);
        let zero = i.scalar_like(0.0);
        let at = [zero, i.clone()];
        let mut carry = state.into_vec();
        carry.extend([
            i + 1.0,
            tokens.dynamic_update_slice(&next.reshape(&[b, 1]), &at),
            logps.dynamic_update_slice(&logp.reshape(&[b, 1]), &at),
        ]);
        carry
    };
    let out = match rows_over.is_empty() {
        true => g.while_loop(&init, |c| more(c).and(&some_row_running(c)), step),
        false => loop_checking_rarely(&g, &init, more, some_row_running, step),
    };
    let mut results = out[..n].to_vec();
    results.extend([out[n + 1].clone(), out[n + 2].clone()]);
    let mut shardings = state_layout;
    shardings.extend([layout.batch(2), layout.batch(2)]);
    finish(&g, &results, shardings, layout)
}

/// Every weight of a model handed from the learner to the rollouts on the device: from the
/// learner's layout (split over `fsdp`) to a copy on every device, converted to the rollout's
/// dtype (bf16 rollouts of an f32 learner). Full fine-tuning needs the copy anyway: the train
/// step donates its weights.
pub struct CastProgram {
    program: Program,
}

impl CastProgram {
    pub fn build(cfg: &GemmaConfig, to: ElementType, layout: &Layout) -> Module {
        let g = Graph::new("cast_weights");
        let (_, weights) = GemmaWeights::parameters(&g, cfg);
        let refs: Vec<&Tensor> = weights.iter().collect();
        place(&g, layout, &refs, |t| layout.weight(&t.dims()));
        let cast: Vec<Tensor> = weights.iter().map(|w| w.convert(to)).collect();
        let shardings = cast
            .iter()
            .map(|c| Sharding::replicated(c.rank()))
            .collect();
        finish(&g, &cast, shardings, layout)
    }

    pub fn compile(on: &Placement, cfg: &GemmaConfig, to: ElementType) -> Result<CastProgram> {
        Ok(CastProgram {
            program: on.compile(&Self::build(cfg, to, on.layout()))?,
        })
    }

    /// The weights in `param_specs` order, converted and on every device.
    pub fn run<W: AsRef<DeviceArray>>(&self, weights: &[W]) -> Result<Vec<Arc<DeviceArray>>> {
        let args: Vec<In> = weights.iter().map(|w| In::Borrow(w.as_ref())).collect();
        Ok(self.program.run(args)?.into_iter().map(Arc::new).collect())
    }
}

/// The compiled pair for one bucket, called with named inputs.
pub struct GenerationPrograms {
    prefill: Program,
    decode: Program,
    cache_len: usize,
}

impl GenerationPrograms {
    pub fn compile(
        on: &Placement,
        cfg: &GemmaConfig,
        bucket: &Bucket,
        stops: &[u32],
    ) -> Result<GenerationPrograms> {
        let layout = on.layout();
        let order = WeightOrder::for_platform(on.client().platform_name());
        Ok(GenerationPrograms {
            prefill: on.compile(&prefill(cfg, bucket, stops, layout))?,
            decode: on.compile(&decode(cfg, bucket, stops, layout, order))?,
            cache_len: KvCache::tensor_count(cfg),
        })
    }

    /// Returns the decode state and the first token's log-prob [B].
    pub fn prefill(
        &self,
        params: &[Arc<DeviceArray>],
        inputs: &PrefillInputs<DeviceArray>,
        knobs: &Knobs<DeviceArray>,
    ) -> Result<(DecodeState<DeviceArray>, DeviceArray)> {
        let mut args: Vec<In> = params.iter().map(|p| In::Borrow(p)).collect();
        args.extend(
            [
                &inputs.prompt,
                &inputs.valid,
                &inputs.rng,
                &knobs.temperature,
                &knobs.top_p,
            ]
            .map(In::Borrow),
        );
        let mut out = self.prefill.run(args)?;
        let state = DecodeState::from_vec(&mut out, self.cache_len);
        let first_logp = out.pop().expect("prefill returns the first log-prob");
        Ok((state, first_logp))
    }

    /// Up to `chunk` more tokens; `limit` (i32 scalar) caps the total generated.
    pub fn decode(
        &self,
        params: &[Arc<DeviceArray>],
        state: DecodeState<DeviceArray>,
        knobs: &Knobs<DeviceArray>,
        limit: &DeviceArray,
    ) -> Result<DecodeOutputs<DeviceArray>> {
        let mut args: Vec<In> = params.iter().map(|p| In::Borrow(p)).collect();
        args.extend(state.into_vec().into_iter().map(In::Donate));
        args.extend([&knobs.temperature, &knobs.top_p, limit].map(In::Borrow));
        let mut out = self.decode.run(args)?;
        let state = DecodeState::from_vec(&mut out, self.cache_len);
        let mut rest = out.into_iter();
        let (tokens, logps) = (rest.next(), rest.next());
        Ok(DecodeOutputs {
            state,
            tokens: tokens.expect("decode returns tokens"),
            logps: logps.expect("decode returns log-probs"),
        })
    }
}
