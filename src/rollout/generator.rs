//! Host side of generation: batching prompts with left padding, G samples per prompt, choosing
//! the compiled bucket, running prefill then decode chunks, stop tokens and stop strings.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;

use super::programs::{decode, prefill, state_len, Bucket};
use super::sampling::SamplerShape;
use crate::graph::HostArray;
use crate::models::gemma::GemmaConfig;
use crate::pjrt::{Arg, Buffer, Client, LoadedExecutable};

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
    client: Client,
    cfg: GemmaConfig,
    params: Vec<Arc<Buffer>>,
    stops: Vec<u32>,
    programs: HashMap<Bucket, (Arc<LoadedExecutable>, Arc<LoadedExecutable>)>,
}

fn round_up(x: i64, to: i64) -> i64 {
    (x + to - 1) / to * to
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

impl Generator {
    pub fn new(
        client: Client,
        cfg: GemmaConfig,
        params: &[HostArray],
        stops: Vec<u32>,
    ) -> Result<Generator> {
        let params = params
            .iter()
            .map(|p| p.upload(&client, 0).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Generator {
            client,
            cfg,
            params,
            stops,
            programs: HashMap::new(),
        })
    }

    /// Uses already-uploaded parameters (e.g. the trainer's current policy).
    pub fn with_params(
        client: Client,
        cfg: GemmaConfig,
        params: Vec<Arc<Buffer>>,
        stops: Vec<u32>,
    ) -> Generator {
        Generator {
            client,
            cfg,
            params,
            stops,
            programs: HashMap::new(),
        }
    }

    pub fn params(&self) -> &[Arc<Buffer>] {
        &self.params
    }

    /// Generates with other weights from now on (the trainer's current policy).
    pub fn set_params(&mut self, params: Vec<Arc<Buffer>>) {
        self.params = params;
    }

    pub fn config(&self) -> &GemmaConfig {
        &self.cfg
    }

    fn programs(
        &mut self,
        bucket: Bucket,
    ) -> Result<(Arc<LoadedExecutable>, Arc<LoadedExecutable>)> {
        if let Some(p) = self.programs.get(&bucket) {
            return Ok(p.clone());
        }
        let pre = prefill(&self.cfg, &bucket, &self.stops).compile(&self.client)?;
        let dec = decode(&self.cfg, &bucket, &self.stops).compile(&self.client)?;
        self.programs.insert(bucket, (pre.clone(), dec.clone()));
        Ok((pre, dec))
    }

    /// Generates `samples` completions for each prompt (token ids, BOS included), consecutive
    /// per prompt. `chunk` tokens are decoded per device call; `on_chunk` sees each row's tokens
    /// so far after every call (for streaming) and returns which rows a stop string finished.
    pub fn generate(
        &mut self,
        prompts: &[Vec<u32>],
        samples: usize,
        sp: &SamplingParams,
        chunk: usize,
        mut on_chunk: impl FnMut(&[Vec<u32>]) -> Vec<bool>,
    ) -> Result<Vec<Completion>> {
        anyhow::ensure!(!prompts.is_empty() && samples > 0, "nothing to generate");
        anyhow::ensure!(sp.max_new_tokens > 0, "max_new_tokens must be at least 1");
        let rows: Vec<(usize, &Vec<u32>)> = prompts
            .iter()
            .enumerate()
            .flat_map(|(i, p)| std::iter::repeat_n((i, p), samples))
            .collect();
        let b = rows.len() as i64;
        let longest = rows.iter().map(|(_, p)| p.len()).max().unwrap_or(1);
        let t = prompt_bucket(longest);
        let greedy = sp.temperature <= 0.0;
        let bucket = Bucket {
            batch: b,
            prompt_len: t,
            slots: round_up(t + sp.max_new_tokens as i64, 64),
            chunk: chunk.clamp(1, sp.max_new_tokens) as i64,
            sampler: SamplerShape {
                greedy,
                top_k: if greedy { None } else { sp.top_k },
                top_p: !greedy && sp.top_p < 1.0,
            },
        };
        let (pre, dec) = self.programs(bucket)?;
        let mut prompt = vec![0i32; (b * t) as usize];
        let mut valid = vec![0i32; (b * t) as usize];
        for (r, (_, p)) in rows.iter().enumerate() {
            anyhow::ensure!(p.len() as i64 <= t, "prompt of {} tokens", p.len());
            let offset = r * t as usize + (t as usize - p.len());
            for (j, &id) in p.iter().enumerate() {
                prompt[offset + j] = id as i32;
                valid[offset + j] = 1;
            }
        }
        let c = &self.client;
        let prompt = c.buffer_from_host(&prompt, &[b, t], 0)?;
        let valid = c.buffer_from_host(&valid, &[b, t], 0)?;
        let rng = c.buffer_from_host(&[sp.seed, 0x9e37_79b9_7f4a_7c15u64], &[2], 0)?;
        let temperature = c.buffer_from_host(&[sp.temperature.max(1e-6)], &[], 0)?;
        let top_p = c.buffer_from_host(&[sp.top_p], &[], 0)?;
        let limit = c.buffer_from_host(&[sp.max_new_tokens as i32], &[], 0)?;

        let mut args: Vec<Arg> = self.params.iter().map(|p| Arg::Borrow(p)).collect();
        args.extend([
            Arg::Borrow(&prompt),
            Arg::Borrow(&valid),
            Arg::Borrow(&rng),
            Arg::Borrow(&temperature),
            Arg::Borrow(&top_p),
        ]);
        let mut out = pre.execute(args)?;
        let first_logp = out
            .pop()
            .expect("prefill returns the first log-prob")
            .to_vec::<f32>()?;
        let mut state = out;
        let n = state_len(&self.cfg);
        let first = state[n - 5].to_vec::<i32>()?;
        let mut tokens: Vec<Vec<u32>> = first.iter().map(|&x| vec![x as u32]).collect();
        let mut logps: Vec<Vec<f32>> = first_logp.iter().map(|&x| vec![x]).collect();
        let mut stopped_by_string = vec![false; b as usize];
        loop {
            let marks = on_chunk(&tokens);
            for (s, m) in stopped_by_string.iter_mut().zip(marks) {
                *s |= m;
            }
            let done = state[n - 2].to_vec::<i32>()?;
            let step = state[n - 6].to_scalar::<i32>()?;
            let finished = done
                .iter()
                .zip(&stopped_by_string)
                .all(|(&d, &s)| d > 0 || s);
            if finished || step as usize >= sp.max_new_tokens {
                break;
            }
            let mut args: Vec<Arg> = self.params.iter().map(|p| Arg::Borrow(p)).collect();
            args.extend(state.drain(..).map(Arg::Donate));
            args.extend([
                Arg::Borrow(&temperature),
                Arg::Borrow(&top_p),
                Arg::Borrow(&limit),
            ]);
            let mut out = dec.execute(args)?;
            let chunk_logps = out
                .pop()
                .expect("decode returns log-probs")
                .to_vec::<f32>()?;
            let chunk_tokens = out.pop().expect("decode returns tokens").to_vec::<i32>()?;
            let new_step = out[n - 6].to_scalar::<i32>()?;
            let produced = (new_step - step) as usize;
            let width = bucket.chunk as usize;
            for r in 0..b as usize {
                for j in 0..produced {
                    tokens[r].push(chunk_tokens[r * width + j] as u32);
                    logps[r].push(chunk_logps[r * width + j]);
                }
            }
            state = out;
        }
        let lengths = state[n - 1].to_vec::<i32>()?;
        let done = state[n - 2].to_vec::<i32>()?;
        Ok(rows
            .iter()
            .enumerate()
            .map(|(r, (prompt_index, _))| {
                let len = (lengths[r] as usize).min(tokens[r].len());
                let mut toks = tokens[r][..len].to_vec();
                let mut lps = logps[r][..len].to_vec();
                let stopped_by_token =
                    done[r] > 0 && toks.last().is_some_and(|t| self.stops.contains(t));
                if stopped_by_token {
                    toks.pop();
                    lps.pop();
                }
                let finish = if stopped_by_token || stopped_by_string[r] {
                    Finish::Stop
                } else {
                    Finish::Length
                };
                Completion {
                    prompt_index: *prompt_index,
                    tokens: toks,
                    logps: lps,
                    finish,
                }
            })
            .collect())
    }
}
