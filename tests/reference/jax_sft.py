

def main(inputs):
    """The supervised loss in JAX (`sft_loss`) and its gradient w.r.t. every parameter."""
    import flax.nnx as nnx

    model, mesh = load(inputs)
    a = lambda k: jnp.asarray(arr(inputs[k]))
    prompt, target, mask = a("prompt_ids"), a("target_ids"), a("target_mask")

    loss_fn = lambda m: sft_loss(m, prompt, target, mask)

    with jax.set_mesh(mesh):
        loss, grads = nnx.value_and_grad(loss_fn)(model)
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(nnx.state(grads, nnx.Param))[0]:
        names = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
        names = [n for n in names if n != "value"]
        flat[".".join(names)] = out(np.asarray(leaf, np.float32))
    return {"loss": float(loss), "grads": flat}
