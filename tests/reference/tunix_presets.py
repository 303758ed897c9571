# Tunix's own configs of the models grpo-xla has presets for: every parameter's name and shape
# (from the nnx state of an abstractly built model) and the numbers the forward pass uses.
def main(inputs):
    import flax.nnx as nnx
    import jax
    from tunix.models.gemma import model as g2
    from tunix.models.gemma3 import model as g3

    configs = {
        "gemma3_270m": (g3, g3.ModelConfig.gemma3_270m()),
        "gemma3_1b": (g3, g3.ModelConfig.gemma3_1b_pt()),
        "gemma2_2b": (g2, g2.ModelConfig.gemma2_2b()),
    }
    out = {}
    for name in inputs["presets"]:
        module, cfg = configs[name]
        cls = module.Gemma3 if module is g3 else module.Gemma
        abstract = nnx.eval_shape(lambda: cls(cfg, rngs=nnx.Rngs(0)))
        params = {}
        for path, leaf in jax.tree_util.tree_flatten_with_path(nnx.state(abstract, nnx.Param))[0]:
            keys = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
            if keys and keys[-1] == "value":
                keys = keys[:-1]
            params[".".join(keys)] = list(leaf.shape)
        numbers = {"num_layers": cfg.num_layers, "sliding_window": cfg.sliding_window_size}
        if module is g3:
            pattern = [str(a) for a in (g3.GEMMA3_ATTENTION_PATTERN * cfg.num_layers)[: cfg.num_layers]]
            numbers.update(rope_local=cfg.local_base_frequency, rope_global=cfg.global_base_frequency,
                           rope_scale_global=cfg.global_scale_factor,
                           # the query is scaled by this number ** -0.5
                           query_pre_attn_scalar=float(
                               cfg.head_dim
                               if cfg.query_pre_attn_norm == g3.QueryPreAttentionNormalisation.BY_ONE_OVER_SQRT_HEAD_DIM
                               else cfg.embed_dim // cfg.num_heads))
        else:
            pattern = [str(a) for a in cfg.attention_types]
            numbers.update(attn_softcap=cfg.attn_logits_soft_cap, final_softcap=cfg.final_logit_softcap,
                           query_pre_attn_scalar=float(cfg.head_dim))
        numbers["global_layers"] = [i for i, a in enumerate(pattern) if "GLOBAL" in a]
        out[name] = {"params": params, "numbers": numbers}
    return out
