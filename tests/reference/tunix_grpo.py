

def grpo_config(inputs, overrides=None):
    """Tunix's own config object for the case: GRPOConfig, or DAPOConfig (which has an epsilon_high
    field of its own and no KL term) when `algo` is "dapo"."""
    from tunix.rl.grpo import grpo_learner
    c = dict(inputs)
    c.update(overrides or {})
    if c.get("algo") == "dapo":
        from tunix.rl.grpo import dapo_learner
        cfg = dapo_learner.DAPOConfig(num_generations=c["g"], epsilon=c["epsilon"], epsilon_high=c["epsilon_high"],
                                      loss_agg_mode=c["aggregation"], overlong_buffer=None)
    else:
        cfg = grpo_learner.GRPOConfig(num_generations=c["g"], beta=c["beta"], epsilon=c["epsilon"],
                                      kl_loss_mode=c["kl"], loss_agg_mode=c["aggregation"])
        if c.get("epsilon_high") is not None:
            # grpo_loss_fn reads `epsilon_high` when the config has it (hasattr), else uses epsilon.
            cfg.epsilon_high = c["epsilon_high"]
    cfg.temperature = c["temperature"]
    return cfg


def main(inputs):
    """Tunix's grpo_loss_fn and its gradient w.r.t. every parameter (tunix_gemma.py's `load`);
    also the loss under each config in `neighbours` (the same inputs, one setting changed), so a
    test can show that the setting it checks changes the loss at all."""
    import flax.nnx as nnx
    from tunix.rl import algo_core
    from tunix.rl.grpo import grpo_learner

    model, mesh = load(inputs)
    a = lambda k: jnp.asarray(arr(inputs[k]))
    prompt = a("prompt_ids")
    example = grpo_learner.TrainExample(
        prompt_ids=prompt, prompt_mask=(prompt != 0).astype(jnp.int32),
        completion_ids=a("completion_ids"), completion_mask=a("completion_mask"),
        advantages=a("advantages"), ref_per_token_logps=a("ref"),
        old_per_token_logps=a("old") if inputs["use_old"] else None)
    cfg = grpo_config(inputs)
    with jax.set_mesh(mesh):
        loss, grads = nnx.value_and_grad(lambda m: algo_core.grpo_loss_fn(m, example, cfg, 0, 1)[0])(model)
        neighbours = [float(algo_core.grpo_loss_fn(model, example, grpo_config(inputs, o), 0, 1)[0])
                      for o in inputs.get("neighbours", [])]
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(nnx.state(grads, nnx.Param))[0]:
        names = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
        names = [n for n in names if n != "value"]
        flat[".".join(names)] = out(np.asarray(leaf, np.float32))
    return {"loss": float(loss), "grads": flat, "neighbour_losses": neighbours,
            "config": {"class": type(cfg).__name__, "epsilon_high": getattr(cfg, "epsilon_high", None),
                       "loss_agg_mode": cfg.loss_agg_mode, "kl_loss_mode": cfg.kl_loss_mode, "beta": cfg.beta}}
