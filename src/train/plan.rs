//! Every program a training run compiles, built from the config and the model's shape alone
//! (no weights), with what stays on the device between them. `grpo-xla compile-check` compiles
//! this plan for a TPU topology to learn, before renting the TPU, whether the run fits.
//!
//! The shapes come from the functions the trainer itself calls (`sft_spec`, `grpo_spec`,
//! `rollout_sampling`, `sampling_bucket`), so the plan cannot drift from what a run compiles.

use crate::graph::{Layout, Module};
use crate::grpo::accumulate::{ApplyGradientsProgram, GradientProgram};
use crate::grpo::programs::{LogProbsProgram, MergeProgram, TrainStepProgram, Trainable};
use crate::models::gemma::{GemmaConfig, WeightOrder};
use crate::rollout::generator::{prompt_bucket, sampling_bucket, shared_samples};
use crate::rollout::programs::{decode, prefill, CastProgram};

use super::config::TrainConfig;
use super::learner::LearnerSpec;
use super::trainer::{grpo_spec, rollout_model, rollout_sampling, sft_spec};

/// One program of the run.
pub struct PlannedProgram {
    /// `phase/program`, e.g. `grpo/train_step`.
    pub name: String,
    pub module: Module,
    /// Bytes of its arguments that stay on the device between programs (weights, optimizer
    /// state); the rest (batches, the KV cache) live only while the program runs.
    pub resident_args: u64,
    /// Bytes that stay on the device during this program's phase.
    pub phase_resident: u64,
}

impl PlannedProgram {
    /// Device bytes live while it runs, given the bytes its compiled form needs
    /// (`MemoryStats::while_running`): those, plus the phase's resident state it does not take.
    pub fn peak_bytes(&self, while_running: u64) -> u64 {
        while_running + self.phase_resident.saturating_sub(self.resident_args)
    }
}

/// How many numbers the trained tensors hold.
fn trained_elements(model: &GemmaConfig, trainable: &Trainable) -> u64 {
    trainable
        .shapes(model)
        .iter()
        .map(|d| d.iter().product::<i64>() as u64)
        .sum()
}

/// Gradient accumulation's f32 sums, one per trained element.
fn gradient_sums(model: &GemmaConfig, trainable: &Trainable) -> u64 {
    4 * trained_elements(model, trainable)
}

/// Bytes held on the device for a whole phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resident {
    /// The frozen base weights (reference policy, LoRA's W).
    pub base: u64,
    /// The trained tensors, AdamW's two moments (f32) and the step counter, and the f32
    /// gradient sums when the learner accumulates.
    pub optimizer_state: u64,
    /// The trained tensors alone.
    pub trained: u64,
    /// The rollout's copy of the policy: the merged adapted matrices (LoRA) or every weight.
    pub rollout_copy: u64,
}

impl Resident {
    /// What a learner of `spec` holds.
    pub fn of_learner(model: &GemmaConfig, spec: &LearnerSpec) -> Resident {
        let mut resident = Resident::of(model, &spec.trainable);
        if spec.accumulate {
            resident.optimizer_state += gradient_sums(model, &spec.trainable);
        }
        resident
    }

    pub fn of(model: &GemmaConfig, trainable: &Trainable) -> Resident {
        let width = model.dtype.size_in_bytes() as u64;
        let specs = model.param_specs();
        let numel = |d: &[i64]| d.iter().product::<i64>() as u64;
        let base: u64 = specs.iter().map(|(_, d)| numel(d) * width).sum();
        let elements = trained_elements(model, trainable);
        let trained = elements * trainable.element_type(model).size_in_bytes() as u64;
        let rollout_copy = match trainable {
            Trainable::Full => base,
            Trainable::Lora(_, lora) => lora.iter().map(|s| numel(&specs[s.param].1) * width).sum(),
        };
        Resident {
            base,
            // The trained tensors, AdamW's two f32 moments, the step counter.
            optimizer_state: trained + 2 * 4 * elements + 4,
            trained,
            rollout_copy,
        }
    }

    /// What one device holds under `layout`: weights and optimizer state split over `fsdp`
    /// (to within the tensors that do not divide), the rollout's copy whole on every device.
    fn per_device(self, layout: &Layout) -> Resident {
        let fsdp = layout.fsdp() as u64;
        Resident {
            base: self.base.div_ceil(fsdp),
            optimizer_state: self.optimizer_state.div_ceil(fsdp),
            trained: self.trained.div_ceil(fsdp),
            rollout_copy: self.rollout_copy,
        }
    }
}

/// The whole run's programs in the order a run meets them.
pub struct ProgramPlan {
    pub programs: Vec<PlannedProgram>,
    /// Resident bytes of the SFT phase (none without one) and of the GRPO phase.
    pub sft: Option<Resident>,
    pub grpo: Resident,
}

/// Builds every program `cfg` compiles for a model of shape `model`: the SFT step (and the
/// LoRA merge for its checkpoints), then GRPO's train step, log-prob programs, merge, the cast
/// to the rollout's dtype when it differs, and the rollout's prefill and decode for the largest
/// prompt bucket, all laid out over `layout`'s devices. Resident bytes are per device. A judge
/// model is not included.
pub fn plan(cfg: &TrainConfig, model: &GemmaConfig, layout: &Layout) -> ProgramPlan {
    let mut programs = vec![];
    let sft = cfg.sft.as_ref().map(|section| {
        let spec = sft_spec(cfg, section, model);
        let resident = Resident::of_learner(model, &spec).per_device(layout);
        let phase = resident.base + resident.optimizer_state;
        learner_programs("sft", model, &spec, &resident, phase, layout, &mut programs);
        resident
    });

    let spec = grpo_spec(cfg, model);
    let mut grpo = Resident::of_learner(model, &spec).per_device(layout);
    // Rollouts in another dtype sample from a cast copy of every weight.
    let rollout_model = rollout_model(cfg, model);
    let rollout_weights =
        rollout_model.num_params() as u64 * rollout_model.dtype.size_in_bytes() as u64;
    // The learner hands every weight over through the cast program unless rollouts can read
    // its own arrays (one dtype, weights whole on every device); LoRA then copies its base once.
    let cast = rollout_model.dtype != model.dtype || layout.fsdp() > 1;
    if cast {
        grpo.rollout_copy += rollout_weights;
    }
    let phase = grpo.base + grpo.optimizer_state + grpo.rollout_copy;
    learner_programs("grpo", model, &spec, &grpo, phase, layout, &mut programs);

    let sampling = rollout_sampling(cfg);
    let rows = cfg.training.prompts_per_step * cfg.rollout.num_generations;
    let longest = prompt_bucket(cfg.rollout.max_prompt_length) as usize;
    let samples = shared_samples(
        cfg.training.prompts_per_step,
        cfg.rollout.num_generations,
        layout.batch_multiple(),
    );
    let bucket = sampling_bucket(rows, samples, longest, &sampling, sampling.max_new_tokens);
    // The stop tokens are constants in the programs; their values do not change the shapes.
    let stops = [1u32, 106];
    if cast {
        programs.push(PlannedProgram {
            name: "rollout/cast_weights".to_string(),
            module: CastProgram::build(model, rollout_model.dtype, layout),
            resident_args: grpo.base,
            phase_resident: phase,
        });
    }
    for (name, module) in [
        (
            "rollout/prefill",
            prefill(&rollout_model, &bucket, &stops, layout),
        ),
        (
            "rollout/decode",
            // Planned for accelerator chips (`compile-check`): weights as trained.
            decode(
                &rollout_model,
                &bucket,
                &stops,
                layout,
                WeightOrder::AsTrained,
            ),
        ),
    ] {
        programs.push(PlannedProgram {
            name: name.to_string(),
            module,
            resident_args: rollout_weights,
            phase_resident: phase,
        });
    }
    ProgramPlan {
        programs,
        sft,
        grpo,
    }
}

/// A learner's programs: its train step, the GRPO log-prob programs, the LoRA merge.
fn learner_programs(
    phase_name: &str,
    model: &GemmaConfig,
    spec: &LearnerSpec,
    resident: &Resident,
    phase: u64,
    layout: &Layout,
    out: &mut Vec<PlannedProgram>,
) {
    let mut push = |name: &str, module: Module, resident_args: u64| {
        out.push(PlannedProgram {
            name: format!("{phase_name}/{name}"),
            module,
            resident_args,
            phase_resident: phase,
        })
    };
    let frozen = match spec.trainable {
        Trainable::Lora(..) => resident.base,
        Trainable::Full => 0,
    };
    let (trainable, loss) = (&spec.trainable, &spec.loss);
    let shape = spec.largest_shape(layout.batch_multiple());
    if spec.accumulate {
        let sums = gradient_sums(model, trainable).div_ceil(layout.fsdp() as u64);
        push(
            "gradient",
            GradientProgram::build(model, shape, trainable, loss, layout),
            frozen + resident.trained + sums,
        );
        push(
            "apply_gradients",
            ApplyGradientsProgram::build(model, trainable, &spec.optimizer, layout),
            resident.optimizer_state,
        );
    } else {
        push(
            "train_step",
            TrainStepProgram::build(model, shape, trainable, loss, &spec.optimizer, layout),
            frozen + resident.optimizer_state,
        );
    }
    let temperature = spec.loss.temperature();
    if spec.loss.runs_reference(&spec.trainable) {
        push(
            "reference_log_probs",
            LogProbsProgram::build(model, shape, &Trainable::Full, temperature, layout),
            resident.base,
        );
    }
    if spec.loss.runs_policy(&spec.trainable) {
        push(
            "policy_log_probs",
            LogProbsProgram::build(model, shape, &spec.trainable, temperature, layout),
            resident.base + resident.trained,
        );
    }
    if let Trainable::Lora(lc, specs) = &spec.trainable {
        push(
            "merge_lora",
            MergeProgram::build(model, lc, specs, model.dtype, layout),
            resident.base + resident.trained,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpo::lora::{specs, LoraConfig};
    use crate::pjrt::ElementType;

    #[test]
    fn resident_bytes_follow_the_trained_tensors_dtype() {
        let mut model = GemmaConfig::preset("tiny_gemma3").unwrap();
        model.dtype = ElementType::BF16;
        let params = model.num_params() as u64;
        let full = Resident::of(&model, &Trainable::Full);
        assert_eq!(full.base, 2 * params);
        // bf16 weights trained in place, two f32 moments, the step.
        assert_eq!(full.optimizer_state, 2 * params + 8 * params + 4);
        assert_eq!(full.rollout_copy, full.base);

        let lc: LoraConfig = serde_yaml::from_str("rank: 2\nalpha: 2").unwrap();
        let lora = Trainable::Lora(lc.clone(), specs(&model, &lc));
        let r = Resident::of(&model, &lora);
        let adapters: u64 = lora
            .shapes(&model)
            .iter()
            .map(|d| d.iter().product::<i64>() as u64)
            .sum();
        assert_eq!(r.trained, 4 * adapters, "f32 adapters");
        assert_eq!(r.optimizer_state, 12 * adapters + 4);
        assert!(r.rollout_copy > 0 && r.rollout_copy < r.base);
    }
}
