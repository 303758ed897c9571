

def main(inputs):
    """Tunix's Gemma 3 with qwix's LoRA applied the way Tunix's demo applies it (LoraProvider with
    module_path targets, apply_lora_to_model), its LoRA params replaced by the test's adapters.
    Returns: the LoRA params qwix created (name -> shape) and any the test lacks or shapes
    differently; per adapted weight, W + qwix's own delta (qwix's einsum string for the einsum
    layers, qwix's dot_general delta for nnx.Linear) probed with an identity input and laid out
    like W; and the logits of the LoRA model beside those of Tunix's model loaded from the test's
    merged weights (a second model directory)."""
    import math
    import flax.nnx as nnx
    import qwix
    from qwix._src.providers import lora as qlora

    jax.config.update("jax_default_matmul_precision", "highest")
    model, mesh = load(inputs)
    ours = {k: arr(v) for k, v in inputs["adapters"].items()}
    rank, alpha = inputs["rank"], inputs["alpha"]
    scale = alpha / rank
    tokens = jnp.asarray(arr(inputs["tokens"]))
    with jax.set_mesh(mesh):
        base_logits = np.asarray(forward(model, tokens), np.float32)
        provider = qwix.LoraProvider(module_path=inputs["module_path"], rank=rank, alpha=alpha)
        lora_model = qwix.apply_lora_to_model(model, provider, rngs=nnx.Rngs(0), **model.get_model_input())
        state = nnx.state(lora_model, nnx.LoRAParam)
        created, missing, misshaped = {}, [], []

        def name_of(path):
            keys = [str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path]
            return ".".join(k for k in keys if k != "value")

        def replace(path, leaf):
            name = name_of(path)
            created[name] = list(leaf.shape)
            if name not in ours:
                missing.append(name)
                return leaf
            if list(ours[name].shape) != list(leaf.shape):
                misshaped.append([name, list(ours[name].shape), list(leaf.shape)])
                return leaf
            return jnp.asarray(ours[name], leaf.dtype)

        state = jax.tree_util.tree_map_with_path(replace, state)
        result = {"created": created, "missing": missing, "misshaped": misshaped,
                  "unused": sorted(set(ours) - set(created))}
        if missing or misshaped:
            return result
        nnx.update(lora_model, state)

        effective, einsum_strings = {}, {}
        for path, module in nnx.iter_graph(lora_model):
            if not path:
                continue
            prefix = ".".join(str(p) for p in path)
            if hasattr(module, "w_lora_einsum_str"):
                # qwix's own contraction 'lhs,A,B->out', fed an identity over W's contracted axes.
                s = module.w_lora_einsum_str
                einsum_strings[prefix + ".w"] = s
                (lhs_s, a_s, b_s), out_s = s.split("->")[0].split(","), s.split("->")[1]
                rhs_s = module.einsum_str.split("->")[0].split(",")[1]
                w = module.w.value
                sizes = dict(zip(rhs_s, w.shape))
                contract = [c for c in lhs_s if c in rhs_s]
                assert list(lhs_s[2:]) == contract, (s, module.einsum_str)
                p = math.prod(sizes[c] for c in contract)
                probe = jnp.eye(p, dtype=jnp.float32).reshape([1, p] + [sizes[c] for c in contract])
                a, b = getattr(module, "w_lora_a").value, getattr(module, "w_lora_b").value
                y = jnp.einsum(s, probe, a, b) * scale
                # Drop the size-1 batch axis, split the probe axis back into W's contracted axes.
                y = jnp.squeeze(y, axis=out_s.index(lhs_s[0]))
                rest = out_s.replace(lhs_s[0], "")
                t = rest.index(lhs_s[1])
                y = y.reshape(y.shape[:t] + tuple(sizes[c] for c in contract) + y.shape[t + 1:])
                split = rest.replace(lhs_s[1], "".join(contract))
                delta = jnp.einsum(f"{split}->{rhs_s}", y)
                effective[prefix + ".w"] = out(np.asarray(w + delta, np.float32))
            elif hasattr(module, "kernel_lora_a"):
                # nnx.Linear goes through qwix's dot_general path: A [in, r], B [r, out].
                k = module.kernel.value
                a, b = module.kernel_lora_a.value, module.kernel_lora_b.value
                delta = qlora._compute_lora_delta(jnp.eye(k.shape[0], dtype=jnp.float32), a, b, (1,), (), (k.shape[0],),
                                                  (), (k.shape[1],), rank) * scale
                effective[prefix + ".kernel"] = out(np.asarray(k + delta, np.float32))
        result["effective"] = effective
        result["einsum_strings"] = einsum_strings

        lora_logits = np.asarray(forward(lora_model, tokens), np.float32)
    merged, mesh2 = load(dict(inputs, model_dir=inputs["merged_dir"]))
    with jax.set_mesh(mesh2):
        merged_logits = np.asarray(forward(merged, tokens), np.float32)
    result["lora_logits"] = out(lora_logits)
    result["merged_logits"] = out(merged_logits)
    result["base_logits"] = out(base_logits)
    return result
