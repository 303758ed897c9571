//! Loading a Hugging Face model directory (config.json, *.safetensors, tokenizer files), as
//! users download Gemma from Kaggle or Hugging Face, into Tunix's parameter layout.
//!
//! HF stores linear layers as [out, in] and splits q/k/v; Tunix stores einsum weights
//! q [N, D, H], kv [2, K, D, H], attn_vec [N, H, D] and MLP kernels [in, out]. `hf_layout`
//! says, for each Tunix parameter, which HF tensors make it and how.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::gemma::{Family, GemmaConfig, LayerKind};
use crate::graph::HostArray;
use crate::pjrt::ElementType;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{name} is missing from {dir} (looked in {files})")]
    Missing {
        name: String,
        dir: PathBuf,
        files: String,
    },
    #[error("{name} in {file} has shape {found:?}, expected {expected:?} for this config")]
    Shape {
        name: String,
        file: PathBuf,
        found: Vec<i64>,
        expected: Vec<i64>,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("{name} in {file} has dtype {dtype}; supported: F32, BF16, F16")]
    Dtype {
        name: String,
        file: PathBuf,
        dtype: String,
    },
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> LoadError {
    LoadError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Reads config.json (Gemma 2, Gemma 3 text, or Gemma 3 multimodal's text_config).
pub fn read_config(dir: &Path) -> Result<GemmaConfig, LoadError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| file_error(&path, e))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| file_error(&path, format!("not JSON: {e}")))?;
    let c = json.get("text_config").unwrap_or(&json);
    let model_type = c["model_type"]
        .as_str()
        .or(json["model_type"].as_str())
        .unwrap_or_default();
    let int = |key: &str| -> Result<i64, LoadError> {
        c[key]
            .as_i64()
            .ok_or_else(|| file_error(&path, format!("field `{key}` is missing or not an integer")))
    };
    let float = |key: &str, default: f64| c[key].as_f64().unwrap_or(default);
    let family = if model_type.starts_with("gemma3") {
        Family::Gemma3
    } else if model_type.starts_with("gemma2") {
        Family::Gemma2
    } else {
        return Err(file_error(
            &path,
            format!("model_type `{model_type}` is not gemma2 or gemma3"),
        ));
    };
    let mut cfg = match family {
        Family::Gemma3 => GemmaConfig::gemma3_270m(),
        Family::Gemma2 => GemmaConfig::gemma2_2b(),
    };
    cfg.num_layers = int("num_hidden_layers")? as usize;
    cfg.embed_dim = int("hidden_size")?;
    cfg.hidden_dim = int("intermediate_size")?;
    cfg.num_heads = int("num_attention_heads")?;
    cfg.num_kv_heads = int("num_key_value_heads")?;
    cfg.head_dim = c["head_dim"]
        .as_i64()
        .unwrap_or(cfg.embed_dim / cfg.num_heads);
    cfg.vocab_size = int("vocab_size")?;
    cfg.sliding_window = c["sliding_window"].as_i64().unwrap_or(cfg.sliding_window);
    cfg.query_pre_attn_scalar = float("query_pre_attn_scalar", cfg.head_dim as f64);
    cfg.rms_eps = float("rms_norm_eps", 1e-6);
    cfg.attn_softcap = c["attn_logit_softcapping"].as_f64();
    cfg.final_softcap = c["final_logit_softcapping"].as_f64();
    match family {
        Family::Gemma3 => {
            cfg.rope_base_global = float("rope_theta", 1_000_000.0);
            cfg.rope_base_local = float("rope_local_base_freq", 10_000.0);
            cfg.rope_scale_global = c["rope_scaling"]["factor"].as_f64().unwrap_or(1.0);
        }
        Family::Gemma2 => {
            cfg.rope_base_global = float("rope_theta", 10_000.0);
            cfg.rope_base_local = cfg.rope_base_global;
        }
    }
    cfg.layer_kinds = layer_kinds(c, family, cfg.num_layers);
    if cfg.layer_kinds.len() != cfg.num_layers {
        return Err(file_error(
            &path,
            format!(
                "layer_types has {} entries for {} layers",
                cfg.layer_kinds.len(),
                cfg.num_layers
            ),
        ));
    }
    Ok(cfg)
}

/// Which layers attend globally: `layer_types` where the config lists them, else the family's
/// pattern (Gemma 3: every `sliding_window_pattern`-th layer, 6 by default; Gemma 2: every
/// second).
fn layer_kinds(c: &serde_json::Value, family: Family, num_layers: usize) -> Vec<LayerKind> {
    match c["layer_types"].as_array() {
        Some(types) => types
            .iter()
            .map(|t| {
                if t.as_str() == Some("full_attention") {
                    LayerKind::Global
                } else {
                    LayerKind::Local
                }
            })
            .collect(),
        None => {
            let pattern = c["sliding_window_pattern"]
                .as_i64()
                .unwrap_or(if family == Family::Gemma3 { 6 } else { 2 })
                as usize;
            (0..num_layers)
                .map(|i| match family {
                    Family::Gemma3 if (i + 1) % pattern == 0 => LayerKind::Global,
                    Family::Gemma2 if i % 2 == 1 => LayerKind::Global,
                    _ => LayerKind::Local,
                })
                .collect()
        }
    }
}

/// How HF tensors become one Tunix parameter.
#[derive(Clone, Debug, PartialEq)]
pub enum HfLayout {
    /// Same values, same shape.
    Same(String),
    /// An [out, in] linear weight, transposed to [in, out].
    Transposed(String),
    /// q_proj [N·H, D] → [N, D, H].
    Query(String),
    /// k_proj, v_proj [K·H, D] → stacked [2, K, D, H].
    KeyValue(String, String),
    /// o_proj [D, N·H] → [N, H, D].
    Output(String),
}

/// The HF source of every Tunix parameter of `cfg`, in `param_specs` order.
pub fn hf_layout(cfg: &GemmaConfig) -> Vec<HfLayout> {
    cfg.param_specs()
        .iter()
        .map(|(name, _)| {
            if name == "embedder.input_embedding" {
                return HfLayout::Same("model.embed_tokens.weight".into());
            }
            if name == "final_norm.scale" {
                return HfLayout::Same("model.norm.weight".into());
            }
            let rest: Vec<&str> = name.splitn(3, '.').collect();
            let hf = format!("model.layers.{}", rest[1]);
            match rest[2] {
                "pre_attention_norm.scale" => {
                    HfLayout::Same(format!("{hf}.input_layernorm.weight"))
                }
                "post_attention_norm.scale" | "post_attn_norm.scale" => {
                    HfLayout::Same(format!("{hf}.post_attention_layernorm.weight"))
                }
                "pre_ffw_norm.scale" => {
                    HfLayout::Same(format!("{hf}.pre_feedforward_layernorm.weight"))
                }
                "post_ffw_norm.scale" => {
                    HfLayout::Same(format!("{hf}.post_feedforward_layernorm.weight"))
                }
                "attn._query_norm.scale" => HfLayout::Same(format!("{hf}.self_attn.q_norm.weight")),
                "attn._key_norm.scale" => HfLayout::Same(format!("{hf}.self_attn.k_norm.weight")),
                "attn.q_einsum.w" => HfLayout::Query(format!("{hf}.self_attn.q_proj.weight")),
                "attn.kv_einsum.w" => HfLayout::KeyValue(
                    format!("{hf}.self_attn.k_proj.weight"),
                    format!("{hf}.self_attn.v_proj.weight"),
                ),
                "attn.attn_vec_einsum.w" => {
                    HfLayout::Output(format!("{hf}.self_attn.o_proj.weight"))
                }
                "mlp.gate_proj.kernel" => {
                    HfLayout::Transposed(format!("{hf}.mlp.gate_proj.weight"))
                }
                "mlp.up_proj.kernel" => HfLayout::Transposed(format!("{hf}.mlp.up_proj.weight")),
                "mlp.down_proj.kernel" => {
                    HfLayout::Transposed(format!("{hf}.mlp.down_proj.weight"))
                }
                other => panic!("no HF name for Tunix parameter {other}"),
            }
        })
        .collect()
}

/// Permutes a row-major array: output dim i is input dim perm[i].
pub fn permute(data: &[f32], dims: &[i64], perm: &[usize]) -> Vec<f32> {
    let rank = dims.len();
    let out_dims: Vec<i64> = perm.iter().map(|&p| dims[p]).collect();
    let in_strides: Vec<i64> = (0..rank).map(|d| dims[d + 1..].iter().product()).collect();
    let mut out = Vec::with_capacity(data.len());
    let mut index = vec![0i64; rank];
    for _ in 0..data.len() {
        let offset: i64 = (0..rank).map(|i| index[i] * in_strides[perm[i]]).sum();
        out.push(data[offset as usize]);
        for d in (0..rank).rev() {
            index[d] += 1;
            if index[d] < out_dims[d] {
                break;
            }
            index[d] = 0;
        }
    }
    out
}

/// All tensors of the directory's safetensors files, as f32, by HF name.
struct HfTensors {
    dir: PathBuf,
    files: Vec<PathBuf>,
    tensors: HashMap<String, (Vec<i64>, Vec<f32>, PathBuf)>,
}

impl HfTensors {
    fn read(dir: &Path) -> Result<HfTensors, LoadError> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| file_error(dir, e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(file_error(dir, "no *.safetensors files"));
        }
        let mut tensors = HashMap::new();
        for file in &files {
            let bytes = std::fs::read(file).map_err(|e| file_error(file, e))?;
            let st = safetensors::SafeTensors::deserialize(&bytes)
                .map_err(|e| file_error(file, format!("not a safetensors file: {e}")))?;
            for (name, view) in st.tensors() {
                let dims: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
                let data = view.data();
                let values: Vec<f32> = match view.dtype() {
                    safetensors::Dtype::F32 => data
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect(),
                    safetensors::Dtype::BF16 => data
                        .chunks_exact(2)
                        .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                        .collect(),
                    safetensors::Dtype::F16 => data
                        .chunks_exact(2)
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                        .collect(),
                    other => {
                        return Err(LoadError::Dtype {
                            name,
                            file: file.clone(),
                            dtype: format!("{other:?}"),
                        })
                    }
                };
                tensors.insert(name, (dims, values, file.clone()));
            }
        }
        Ok(HfTensors {
            dir: dir.to_path_buf(),
            files,
            tensors,
        })
    }

    fn take(&mut self, name: &str, expected: &[i64]) -> Result<Vec<f32>, LoadError> {
        let (dims, values, file) = self
            .tensors
            .remove(name)
            .ok_or_else(|| LoadError::Missing {
                name: name.to_string(),
                dir: self.dir.clone(),
                files: self
                    .files
                    .iter()
                    .filter_map(|f| f.file_name())
                    .map(|f| f.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if dims != expected {
            return Err(LoadError::Shape {
                name: name.to_string(),
                file,
                found: dims,
                expected: expected.to_vec(),
            });
        }
        Ok(values)
    }
}

/// Loads `dir` into parameters in `param_specs` order, converted to `cfg.dtype`.
pub fn load_params(dir: &Path, cfg: &GemmaConfig) -> Result<Vec<HostArray>, LoadError> {
    let mut hf = HfTensors::read(dir)?;
    let (d, n, k, h) = (cfg.embed_dim, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim);
    let mut out = vec![];
    for ((_, dims), layout) in cfg.param_specs().iter().zip(hf_layout(cfg)) {
        let values = match &layout {
            HfLayout::Same(name) => hf.take(name, dims)?,
            HfLayout::Transposed(name) => permute(
                &hf.take(name, &[dims[1], dims[0]])?,
                &[dims[1], dims[0]],
                &[1, 0],
            ),
            HfLayout::Query(name) => permute(&hf.take(name, &[n * h, d])?, &[n, h, d], &[0, 2, 1]),
            HfLayout::KeyValue(kname, vname) => {
                let kk = permute(&hf.take(kname, &[k * h, d])?, &[k, h, d], &[0, 2, 1]);
                let vv = permute(&hf.take(vname, &[k * h, d])?, &[k, h, d], &[0, 2, 1]);
                [kk, vv].concat()
            }
            HfLayout::Output(name) => permute(&hf.take(name, &[d, n * h])?, &[d, n * h], &[1, 0]),
        };
        out.push(to_dtype(&values, dims, cfg.dtype));
    }
    Ok(out)
}

/// `array` as type `ty` (through f32); returned as is when it already is.
pub fn converted(array: HostArray, ty: ElementType) -> HostArray {
    if array.ty == ty {
        return array;
    }
    let values: Vec<f32> = array.to_f64().iter().map(|&v| v as f32).collect();
    to_dtype(&values, &array.dims, ty)
}

pub fn to_dtype(values: &[f32], dims: &[i64], ty: ElementType) -> HostArray {
    match ty {
        ElementType::BF16 => HostArray::new(
            &values
                .iter()
                .map(|&v| half::bf16::from_f32(v))
                .collect::<Vec<_>>(),
            dims,
        ),
        ElementType::F16 => HostArray::new(
            &values
                .iter()
                .map(|&v| half::f16::from_f32(v))
                .collect::<Vec<_>>(),
            dims,
        ),
        _ => HostArray::new(values, dims),
    }
}

/// Writes parameters (in `param_specs` order, f32) as an HF model directory: config.json and
/// model.safetensors, written to a temporary folder and renamed into place.
pub fn save_params(dir: &Path, cfg: &GemmaConfig, params: &[HostArray]) -> Result<(), LoadError> {
    let (d, n, k, h) = (cfg.embed_dim, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim);
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = vec![];
    let mut put = |name: &str, dims: &[i64], values: Vec<f32>| {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push((
            name.to_string(),
            dims.iter().map(|&x| x as usize).collect(),
            bytes,
        ));
    };
    for (((_, dims), layout), p) in cfg.param_specs().iter().zip(hf_layout(cfg)).zip(params) {
        let v: Vec<f32> = p.to_f64().iter().map(|&x| x as f32).collect();
        match layout {
            HfLayout::Same(name) => put(&name, dims, v),
            HfLayout::Transposed(name) => {
                put(&name, &[dims[1], dims[0]], permute(&v, dims, &[1, 0]))
            }
            HfLayout::Query(name) => put(&name, &[n * h, d], permute(&v, &[n, d, h], &[0, 2, 1])),
            HfLayout::KeyValue(kname, vname) => {
                let half = v.len() / 2;
                put(
                    &kname,
                    &[k * h, d],
                    permute(&v[..half], &[k, d, h], &[0, 2, 1]),
                );
                put(
                    &vname,
                    &[k * h, d],
                    permute(&v[half..], &[k, d, h], &[0, 2, 1]),
                );
            }
            HfLayout::Output(name) => put(&name, &[d, n * h], permute(&v, &[n * h, d], &[1, 0])),
        }
    }
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            (
                name.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .expect("sizes match"),
            )
        })
        .collect();
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| file_error(&tmp, e))?;
    let st = tmp.join("model.safetensors");
    safetensors::serialize_to_file(views, None, &st).map_err(|e| file_error(&st, e))?;
    let config = tmp.join("config.json");
    std::fs::write(
        &config,
        serde_json::to_string_pretty(&hf_config_json(cfg)).unwrap(),
    )
    .map_err(|e| file_error(&config, e))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| file_error(dir, e))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| file_error(dir, e))
}

/// The HF config.json for `cfg`.
pub fn hf_config_json(cfg: &GemmaConfig) -> serde_json::Value {
    let layer_types: Vec<&str> = cfg
        .layer_kinds
        .iter()
        .map(|k| {
            if *k == LayerKind::Global {
                "full_attention"
            } else {
                "sliding_attention"
            }
        })
        .collect();
    let (model_type, arch) = match cfg.family {
        Family::Gemma3 => ("gemma3_text", "Gemma3ForCausalLM"),
        Family::Gemma2 => ("gemma2", "Gemma2ForCausalLM"),
    };
    serde_json::json!({
        "architectures": [arch],
        "model_type": model_type,
        "hidden_size": cfg.embed_dim,
        "intermediate_size": cfg.hidden_dim,
        "num_hidden_layers": cfg.num_layers,
        "num_attention_heads": cfg.num_heads,
        "num_key_value_heads": cfg.num_kv_heads,
        "head_dim": cfg.head_dim,
        "vocab_size": cfg.vocab_size,
        "sliding_window": cfg.sliding_window,
        "layer_types": layer_types,
        "rope_theta": cfg.rope_base_global,
        "rope_local_base_freq": cfg.rope_base_local,
        "query_pre_attn_scalar": cfg.query_pre_attn_scalar,
        "rms_norm_eps": cfg.rms_eps,
        "attn_logit_softcapping": cfg.attn_softcap,
        "final_logit_softcapping": cfg.final_softcap,
        "hidden_activation": "gelu_pytorch_tanh",
        "tie_word_embeddings": true,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "pad_token_id": 0,
        "torch_dtype": "float32",
    })
}
