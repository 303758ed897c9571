//! Host side of generation: batching prompts with left padding, G samples per prompt, choosing
//! the compiled bucket, running prefill then decode chunks, stop tokens and stop strings.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;

use super::programs::{Bucket, GenerationPrograms, Knobs, PrefillInputs};
use super::sampling::SamplerShape;
use super::stop::first_stop;
use crate::graph::{DeviceArray, HostArray, Placement};
use crate::models::gemma::GemmaConfig;
use crate::models::tokenizer::TextTokenizer;

#[derive(Clone, Debug)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f32,
    pub top_k: Option<i64>,
    /// 1.0 turns top-p off.
    pub top_p: f32,
    pub seed: u64,
    pub max_new_tokens: usize,
    /// Text that ends a completion (kept in it), e.g. `</answer>`.
    pub stop_strings: Vec<String>,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams {
            temperature: 0.0,
            top_k: None,
            top_p: 1.0,
            seed: 0,
            max_new_tokens: 64,
            stop_strings: vec![],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    /// A stop token (not included in `tokens`) or a stop string (included).
    Stop,
    /// Ran out of `max_new_tokens`.
    Length,
}

#[derive(Clone, Debug)]
pub struct Completion {
    /// Which prompt this samples (completions come in groups of G per prompt).
    pub prompt_index: usize,
    pub tokens: Vec<u32>,
    /// Log-probability of each token under the sampling distribution.
    pub logps: Vec<f32>,
    pub finish: Finish,
}

pub struct Generator {
    placement: Placement,
    cfg: GemmaConfig,
    params: Vec<Arc<DeviceArray>>,
    tokenizer: Arc<TextTokenizer>,
    /// Tokens that end a completion (the tokenizer's, unless overridden).
    stops: Vec<u32>,
    programs: HashMap<Bucket, Arc<GenerationPrograms>>,
}

fn round_up(x: i64, to: i64) -> i64 {
    (x + to - 1) / to * to
}

/// The programs' shape for `rows` rows, `samples` consecutive ones per prompt (`shared_samples`),
/// of at most `longest` prompt tokens, sampled as `sp` says, decoding `chunk` tokens per call.
pub fn sampling_bucket(
    rows: usize,
    samples: usize,
    longest: usize,
    sp: &SamplingParams,
    chunk: usize,
) -> Bucket {
    let t = prompt_bucket(longest);
    let greedy = sp.temperature <= 0.0;
    Bucket {
        batch: rows as i64,
        samples: samples as i64,
        prompt_len: t,
        slots: round_up(t + sp.max_new_tokens as i64, 64),
        chunk: chunk.clamp(1, sp.max_new_tokens) as i64,
        sampler: SamplerShape {
            greedy,
            top_k: if greedy { None } else { sp.top_k },
            top_p: !greedy && sp.top_p < 1.0,
        },
    }
}

/// How many samples of each of `prompts` prompts one prefill serves: all `samples` when the
/// prompts split evenly over the `row_multiple` devices that split the rows, else 1 (every row
/// prefilled on its own, rows padded to the devices).
pub fn shared_samples(prompts: usize, samples: usize, row_multiple: usize) -> usize {
    match prompts % row_multiple {
        0 => samples,
        _ => 1,
    }
}

/// Prompt lengths are padded to a few sizes, so programs are compiled once per size.
pub fn prompt_bucket(len: usize) -> i64 {
    let len = len.max(1) as i64;
    if len <= 16 {
        16
    } else if len <= 512 {
        (len as u64).next_power_of_two() as i64
    } else {
        round_up(len, 256)
    }
}

/// Each row's tokens so far, cut at its first stop string once one appears.
struct Rows {
    tokens: Vec<Vec<u32>>,
    logps: Vec<Vec<f32>>,
    /// Tokens already searched for stop strings.
    scanned: Vec<usize>,
    /// Where a stop string ended the row (tokens kept), once found.
    cut: Vec<Option<usize>>,
}

impl Rows {
    fn push_chunk(&mut self, tokens: &[i32], logps: &[f32], width: usize, produced: usize) {
        for (r, (row, lp)) in self.tokens.iter_mut().zip(&mut self.logps).enumerate() {
            for j in 0..produced {
                row.push(tokens[r * width + j] as u32);
                lp.push(logps[r * width + j]);
            }
        }
    }

    fn scan_stop_strings(&mut self, stops: &[String], tokenizer: &TextTokenizer) {
        let decode = |ids: &[u32]| tokenizer.decode(ids);
        for r in 0..self.tokens.len() {
            if self.cut[r].is_none() {
                self.cut[r] = first_stop(&self.tokens[r], self.scanned[r], stops, &decode);
                self.scanned[r] = self.tokens[r].len();
            }
        }
    }

    /// The first `prompt_indices.len()` rows as completions: each cut at the device's length,
    /// at its stop string (kept), or before the stop token that ended it (dropped).
    fn into_completions(
        self,
        prompt_indices: &[usize],
        lengths: &[i32],
        done: &[i32],
        stops: &[u32],
    ) -> Vec<Completion> {
        prompt_indices
            .iter()
            .enumerate()
            .map(|(r, &prompt_index)| {
                let cut = self.cut[r];
                let len = (lengths[r] as usize)
                    .min(self.tokens[r].len())
                    .min(cut.unwrap_or(usize::MAX));
                let mut tokens = self.tokens[r][..len].to_vec();
                let mut logps = self.logps[r][..len].to_vec();
                let stopped_by_token = cut.is_none()
                    && done[r] > 0
                    && tokens.last().is_some_and(|t| stops.contains(t));
                if stopped_by_token {
                    tokens.pop();
                    logps.pop();
                }
                let finish = if stopped_by_token || cut.is_some() {
                    Finish::Stop
                } else {
                    Finish::Length
                };
                Completion {
                    prompt_index,
                    tokens,
                    logps,
                    finish,
                }
            })
            .collect()
    }

    /// The rows as far as they go: cut at a stop string where one was found.
    fn visible(&self) -> Vec<Vec<u32>> {
        self.tokens
            .iter()
            .zip(&self.cut)
            .map(|(t, c)| t[..c.unwrap_or(t.len())].to_vec())
            .collect()
    }
}

impl Generator {
    /// Copies `params` to every device of `placement`.
    pub fn new(
        placement: Placement,
        cfg: GemmaConfig,
        params: &[HostArray],
        tokenizer: Arc<TextTokenizer>,
    ) -> Result<Generator> {
        let params = placement
            .replicate_all(params)?
            .into_iter()
            .map(Arc::new)
            .collect();
        Ok(Generator::with_params(placement, cfg, params, tokenizer))
    }

    /// Uses parameters already on every device (e.g. the trainer's current policy).
    pub fn with_params(
        placement: Placement,
        cfg: GemmaConfig,
        params: Vec<Arc<DeviceArray>>,
        tokenizer: Arc<TextTokenizer>,
    ) -> Generator {
        Generator {
            placement,
            cfg,
            params,
            stops: tokenizer.stop_tokens(),
            tokenizer,
            programs: HashMap::new(),
        }
    }

    /// Ends completions at these tokens instead of the tokenizer's (none: always run to
    /// `max_new_tokens`, e.g. to compare with a full forward pass).
    pub fn with_stop_tokens(mut self, stops: Vec<u32>) -> Generator {
        self.stops = stops;
        self.programs.clear();
        self
    }

    pub fn params(&self) -> &[Arc<DeviceArray>] {
        &self.params
    }

    pub fn placement(&self) -> &Placement {
        &self.placement
    }

    /// The same model in another dtype, with weights already in it (compiled programs are
    /// dropped: they were built for the old dtype).
    pub fn with_dtype(
        mut self,
        dtype: crate::pjrt::ElementType,
        params: Vec<Arc<DeviceArray>>,
    ) -> Generator {
        self.cfg.dtype = dtype;
        self.params = params;
        self.programs.clear();
        self
    }

    /// Generates with other weights from now on (the trainer's current policy).
    pub fn set_params(&mut self, params: Vec<Arc<DeviceArray>>) {
        self.params = params;
    }

    pub fn config(&self) -> &GemmaConfig {
        &self.cfg
    }

    pub fn tokenizer(&self) -> &Arc<TextTokenizer> {
        &self.tokenizer
    }

    fn programs(&mut self, bucket: Bucket) -> Result<Arc<GenerationPrograms>> {
        if let Some(p) = self.programs.get(&bucket) {
            return Ok(p.clone());
        }
        let programs = Arc::new(GenerationPrograms::compile(
            &self.placement,
            &self.cfg,
            &bucket,
            &self.stops,
        )?);
        self.programs.insert(bucket, programs.clone());
        Ok(programs)
    }

    /// Left-pads the rows' prompts to the bucket's length, with the sampler's seed.
    fn prefill_inputs(
        &self,
        rows: &[&Vec<u32>],
        t: i64,
        seed: u64,
    ) -> Result<PrefillInputs<DeviceArray>> {
        let b = rows.len() as i64;
        let mut prompt = vec![0i32; (b * t) as usize];
        let mut valid = vec![0i32; (b * t) as usize];
        for (r, p) in rows.iter().enumerate() {
            anyhow::ensure!(p.len() as i64 <= t, "prompt of {} tokens", p.len());
            let offset = r * t as usize + (t as usize - p.len());
            for (j, &id) in p.iter().enumerate() {
                prompt[offset + j] = id as i32;
                valid[offset + j] = 1;
            }
        }
        let on = &self.placement;
        Ok(PrefillInputs {
            prompt: on.put_rows(&prompt, &[b, t])?,
            valid: on.put_rows(&valid, &[b, t])?,
            rng: on.put(&[seed, 0x9e37_79b9_7f4a_7c15u64], &[2])?,
        })
    }

    /// Generates `samples` completions for each prompt (token ids, BOS included), consecutive
    /// per prompt. `chunk` tokens are decoded per device call; `on_chunk` sees each row's tokens
    /// so far after every call (cut at a stop string), for streaming. A completion ends at a
    /// stop token (not kept) or at the end of the first of `sp.stop_strings` (kept).
    pub fn generate(
        &mut self,
        prompts: &[Vec<u32>],
        samples: usize,
        sp: &SamplingParams,
        chunk: usize,
        mut on_chunk: impl FnMut(&[Vec<u32>]),
    ) -> Result<Vec<Completion>> {
        anyhow::ensure!(!prompts.is_empty() && samples > 0, "nothing to generate");
        anyhow::ensure!(sp.max_new_tokens > 0, "max_new_tokens must be at least 1");
        let mut rows: Vec<(usize, &Vec<u32>)> = prompts
            .iter()
            .enumerate()
            .flat_map(|(i, p)| std::iter::repeat_n((i, p), samples))
            .collect();
        let wanted = rows.len();
        // Rows are split over the devices: pad with copies of the last row, dropped at the end
        // (none are needed when the prompts split evenly, and each is prefilled once).
        let multiple = self.placement.layout().batch_multiple();
        let shared = shared_samples(prompts.len(), samples, multiple);
        let last = rows[wanted - 1];
        rows.resize(wanted.div_ceil(multiple) * multiple, last);
        let b = rows.len();
        let longest = prompts.iter().map(|p| p.len()).max().unwrap_or(1);
        let bucket = sampling_bucket(b, shared, longest, sp, chunk);
        let programs = self.programs(bucket)?;
        let prompt_rows: Vec<&Vec<u32>> = rows.iter().step_by(shared).map(|(_, p)| *p).collect();
        let inputs = self.prefill_inputs(&prompt_rows, bucket.prompt_len, sp.seed)?;
        let on = &self.placement;
        let knobs = Knobs {
            temperature: on.put(&[sp.temperature.max(1e-6)], &[])?,
            top_p: on.put(&[sp.top_p], &[])?,
        };
        let limit = on.put(&[sp.max_new_tokens as i32], &[])?;

        let (mut state, first_logp) = programs.prefill(&self.params, &inputs, &knobs)?;
        let rows_of = |a: &DeviceArray| on.download(a);
        let first = rows_of(&state.token)?.to_vec::<i32>();
        let mut out = Rows {
            tokens: first.iter().map(|&x| vec![x as u32]).collect(),
            logps: rows_of(&first_logp)?
                .to_vec::<f32>()
                .iter()
                .map(|&x| vec![x])
                .collect(),
            scanned: vec![0; b],
            cut: vec![None; b],
        };
        loop {
            out.scan_stop_strings(&sp.stop_strings, &self.tokenizer);
            on_chunk(&out.visible());
            let done = rows_of(&state.done)?.to_vec::<i32>();
            let step = state.step.to_scalar::<i32>()?;
            let finished = done
                .iter()
                .zip(&out.cut)
                .all(|(&d, c)| d > 0 || c.is_some());
            if finished || step as usize >= sp.max_new_tokens {
                break;
            }
            let chunk = programs.decode(&self.params, state, &knobs, &limit)?;
            state = chunk.state;
            let produced = (state.step.to_scalar::<i32>()? - step) as usize;
            out.push_chunk(
                &rows_of(&chunk.tokens)?.to_vec::<i32>(),
                &rows_of(&chunk.logps)?.to_vec::<f32>(),
                bucket.chunk as usize,
                produced,
            );
        }
        let lengths = rows_of(&state.lengths)?.to_vec::<i32>();
        let done = rows_of(&state.done)?.to_vec::<i32>();
        let prompt_indices: Vec<usize> = rows[..wanted].iter().map(|(i, _)| *i).collect();
        Ok(out.into_completions(&prompt_indices, &lengths, &done, &self.stops))
    }
}
