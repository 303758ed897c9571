

def main(inputs):
    """Tunix's grpo_loss_fn and its gradient w.r.t. every parameter (tunix_gemma.py's `load`)."""
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
    cfg = grpo_learner.GRPOConfig(num_generations=inputs["g"], beta=inputs["beta"], epsilon=inputs["epsilon"],
                                  kl_loss_mode=inputs["kl"], loss_agg_mode=inputs["aggregation"])
    cfg.temperature = inputs["temperature"]
    with jax.set_mesh(mesh):
        loss, grads = nnx.value_and_grad(lambda m: algo_core.grpo_loss_fn(m, example, cfg, 0, 1)[0])(model)
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(nnx.state(grads, nnx.Param))[0]:
        names = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
        names = [n for n in names if n != "value"]
        flat[".".join(names)] = out(np.asarray(leaf, np.float32))
    return {"loss": float(loss), "grads": flat}
