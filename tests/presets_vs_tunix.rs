//! The model presets (what `compile-check --model-preset` and random-weight runs use) are
//! Tunix's own configs: every parameter name and shape equals the nnx state of Tunix's model
//! built from `ModelConfig.gemma3_270m()`, `.gemma3_1b_pt()` and `gemma.ModelConfig.gemma2_2b()`,
//! and so do the layer pattern, window, RoPE bases and soft-caps.

use grpo_xla::models::gemma::{Family, GemmaConfig, LayerKind};
use grpo_xla::reference;
use serde_json::json;

const SCRIPT: &str = include_str!("reference/tunix_presets.py");
const PRESETS: [&str; 3] = ["gemma3_270m", "gemma3_1b", "gemma2_2b"];

#[test]
fn presets_equal_tunix_model_configs() {
    let theirs = reference::run(SCRIPT, &json!({ "presets": PRESETS }))
        .expect("the reference environment is needed: scripts/setup.sh installs it");
    for name in PRESETS {
        let ours = GemmaConfig::preset(name).unwrap();
        let t = &theirs[name];
        let mut their_params: Vec<(String, Vec<i64>)> = t["params"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let dims = v.as_array().unwrap().iter().map(|d| d.as_i64().unwrap());
                (k.clone(), dims.collect())
            })
            .collect();
        their_params.sort();
        let mut our_params = ours.param_specs();
        our_params.sort();
        let only_ours: Vec<_> = our_params
            .iter()
            .filter(|p| !their_params.contains(p))
            .collect();
        let only_theirs: Vec<_> = their_params
            .iter()
            .filter(|p| !our_params.contains(p))
            .collect();
        assert!(
            only_ours.is_empty() && only_theirs.is_empty(),
            "{name}: parameters only in our preset: {only_ours:?}; only in Tunix's: {only_theirs:?}"
        );
        assert_eq!(our_params.len(), their_params.len(), "{name}");

        let n = &t["numbers"];
        assert_eq!(
            ours.num_layers as i64,
            n["num_layers"].as_i64().unwrap(),
            "{name}"
        );
        assert_eq!(
            ours.sliding_window,
            n["sliding_window"].as_i64().unwrap(),
            "{name}"
        );
        let global: Vec<i64> = (0..ours.num_layers)
            .filter(|&i| ours.layer_kinds[i] == LayerKind::Global)
            .map(|i| i as i64)
            .collect();
        let their_global: Vec<i64> = n["global_layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(global, their_global, "{name}: global layers");
        assert_eq!(
            ours.query_pre_attn_scalar,
            n["query_pre_attn_scalar"].as_f64().unwrap(),
            "{name}"
        );
        match ours.family {
            Family::Gemma3 => {
                assert_eq!(
                    ours.rope_base_local,
                    n["rope_local"].as_f64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    ours.rope_base_global,
                    n["rope_global"].as_f64().unwrap(),
                    "{name}"
                );
                assert_eq!(
                    ours.rope_scale_global,
                    n["rope_scale_global"].as_f64().unwrap(),
                    "{name}"
                );
            }
            Family::Gemma2 => {
                assert_eq!(ours.attn_softcap, n["attn_softcap"].as_f64(), "{name}");
                assert_eq!(ours.final_softcap, n["final_softcap"].as_f64(), "{name}");
            }
        }
    }
}
