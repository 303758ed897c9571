

def main(inputs):
    """Tunix on the trainer's own packed batch: the reference policy's per-token log-probs
    (base weights), and grpo_loss_fn with its aux metrics for the policy's weights. The batch
    was sampled from the base weights, so with `use_old` its old log-probs are the reference's."""
    import flax.nnx as nnx
    from tunix.rl import algo_core, common
    from tunix.rl.grpo import grpo_learner

    a = lambda k: jnp.asarray(arr(inputs[k]))
    prompt, completion, mask = a("prompt_ids"), a("completion_ids"), a("completion_mask")
    temperature = inputs["temperature"]
    base, mesh = load(dict(inputs, model_dir=inputs["base_dir"]))
    policy, _ = load(dict(inputs, model_dir=inputs["policy_dir"]))
    with jax.set_mesh(mesh):
        graphdef, state = nnx.split(base)
        ref = common.compute_per_token_logps(graphdef, state, prompt_tokens=prompt, completion_tokens=completion,
                                             pad_id=0, eos_id=1, temperature=temperature)
        example = grpo_learner.TrainExample(
            prompt_ids=prompt, prompt_mask=(prompt != 0).astype(jnp.int32),
            completion_ids=completion, completion_mask=mask, advantages=a("advantages"),
            ref_per_token_logps=ref, old_per_token_logps=ref if inputs["use_old"] else None)
        cfg = grpo_learner.GRPOConfig(num_generations=inputs["g"], beta=inputs["beta"], epsilon=inputs["epsilon"],
                                      kl_loss_mode=inputs["kl"], loss_agg_mode=inputs["aggregation"])
        cfg.temperature = temperature
        loss, aux = algo_core.grpo_loss_fn(policy, example, cfg, 0, 1)
    return {"ref": out(np.asarray(ref, np.float32)), "loss": float(loss), "kl": float(aux["kl"]),
            "clip_fraction": float(aux["pg_clipfrac"]), "entropy": float(aux["entropy"])}
