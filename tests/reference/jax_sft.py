

def main(inputs):
    """The supervised loss in JAX: Tunix's Gemma 3 logits of the completion positions,
    optax.softmax_cross_entropy_with_integer_labels on the target ids, masked and averaged over
    target tokens, and its gradient w.r.t. every parameter."""
    import flax.nnx as nnx
    import optax
    from tunix.rl import common

    model, mesh = load(inputs)
    a = lambda k: jnp.asarray(arr(inputs[k]))
    prompt, target, mask = a("prompt_ids"), a("target_ids"), a("target_mask")

    def loss_fn(m):
        graphdef, state = nnx.split(m)
        _, logits = common.compute_per_token_logps(graphdef, state, prompt_tokens=prompt,
                                                   completion_tokens=target, pad_id=0, eos_id=1,
                                                   stop_gradient=False, return_logits=True)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), target)
        return (ce * mask).sum() / jnp.maximum(mask.sum(), 1.0)

    with jax.set_mesh(mesh):
        loss, grads = nnx.value_and_grad(loss_fn)(model)
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(nnx.state(grads, nnx.Param))[0]:
        names = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
        names = [n for n in names if n != "value"]
        flat[".".join(names)] = out(np.asarray(leaf, np.float32))
    return {"loss": float(loss), "grads": flat}
