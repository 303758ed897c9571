

def sft_loss(m, prompt, target, mask):
    """The supervised loss through Tunix's model: the completion positions' logits
    (`tunix.rl.common.compute_per_token_logps`), optax's integer-label cross-entropy on the target
    ids, masked and averaged over target tokens."""
    import flax.nnx as nnx
    import optax
    from tunix.rl import common

    graphdef, state = nnx.split(m)
    _, logits = common.compute_per_token_logps(graphdef, state, prompt_tokens=prompt,
                                               completion_tokens=target, pad_id=0, eos_id=1,
                                               stop_gradient=False, return_logits=True)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), target)
    return (ce * mask).sum() / jnp.maximum(mask.sum(), 1.0)
