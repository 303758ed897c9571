# Tunix's Gemma 2 / Gemma 3 on an HF model directory: logits for given token rows, and greedy
# continuations by repeated full forwards (the reference our KV-cache decoding must equal).
import dataclasses

import jax
import jax.numpy as jnp


def load(inputs):
    family, d = inputs["family"], inputs["model_dir"]
    mesh = jax.make_mesh((1, 1), ("fsdp", "tp"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
    c = inputs.get("config")
    if family == "gemma3":
        from tunix.models.gemma3 import model as m, params_safetensors as ps
        if c is None:
            cfg = m.ModelConfig.gemma3_270m()
        else:
            cfg = m.ModelConfig(num_layers=c["num_layers"], num_embed=c["vocab"], embed_dim=c["d"], hidden_dim=c["f"],
                                num_heads=c["n"], head_dim=c["h"], num_kv_heads=c["k"], sliding_window_size=c["window"],
                                local_base_frequency=10_000, global_base_frequency=1_000_000)
        cfg = dataclasses.replace(cfg, param_dtype=jnp.bfloat16 if inputs.get("dtype") == "bf16" else jnp.float32)
    else:
        from tunix.models.gemma import model as m, params_safetensors as ps
        cfg = m.ModelConfig(num_layers=c["num_layers"], num_embed=c["vocab"], embed_dim=c["d"], hidden_dim=c["f"],
                            num_heads=c["n"], head_dim=c["h"], num_kv_heads=c["k"], final_logit_softcap=30.0,
                            attention_types=(m.AttentionType.LOCAL_SLIDING, m.AttentionType.GLOBAL) * (c["num_layers"] // 2),
                            use_post_attn_norm=True, use_post_ffw_norm=True, attn_logits_soft_cap=50.0,
                            sliding_window_size=c["window"])
    dtype = jnp.bfloat16 if inputs.get("dtype") == "bf16" else jnp.float32
    with jax.set_mesh(mesh):
        model = ps.create_model_from_safe_tensors(d, cfg, mesh, dtype=dtype)
    return model, mesh


def forward(model, tokens):
    t = tokens.shape[1]
    positions = jnp.broadcast_to(jnp.arange(t), tokens.shape)
    mask = jnp.broadcast_to(jnp.tril(jnp.ones((t, t), bool)), (tokens.shape[0], t, t))
    logits, _ = model(tokens, positions, None, mask)
    return logits


def main(inputs):
    if inputs["mode"] == "real":
        return real_model(inputs)
    model, mesh = load(inputs)
    with jax.set_mesh(mesh):
        if inputs["mode"] == "logits":
            tokens = jnp.asarray(arr(inputs["tokens"]))
            return {"logits": out(np.asarray(forward(model, tokens), np.float32))}
        # Greedy: one jitted forward over a fixed-length row, read at the last real position.
        steps, length = inputs["steps"], inputs["length"]
        f = jax.jit(lambda t: forward(model, t))
        result = []
        for prompt in inputs["prompts"]:
            row = list(prompt)
            for _ in range(steps):
                padded = jnp.asarray([row + [0] * (length - len(row))], jnp.int32)
                row.append(int(jnp.argmax(f(padded)[0, len(row) - 1])))
            result.append(row[len(prompt):])
        return {"tokens": result}


def real_model(inputs):
    """The real 270M: max |ours - tunix| over every position's logits, and greedy continuations."""
    model, mesh = load(inputs)
    result = {"max_diff": [], "argmax_agree": [], "tokens": [], "tokenizer_ids": []}
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(inputs["model_dir"] + "/tokenizer.json")
    for text in inputs["texts"]:
        result["tokenizer_ids"].append([2] + tok.encode(text, add_special_tokens=False).ids)
    with jax.set_mesh(mesh):
        for prompt, path in zip(inputs["prompts"], inputs["our_logits"]):
            theirs = np.asarray(forward(model, jnp.asarray([prompt], jnp.int32))[0], np.float32)
            ours = np.fromfile(path, dtype="<f4").reshape(theirs.shape)
            result["max_diff"].append(float(np.max(np.abs(ours - theirs))))
            result["argmax_agree"].append(bool(np.all(ours.argmax(-1) == theirs.argmax(-1))))
        f = jax.jit(lambda t: forward(model, t))
        for prompt in inputs["prompts"]:
            row = list(prompt)
            for _ in range(inputs["steps"]):
                padded = jnp.asarray([row + [0] * (inputs["length"] - len(row))], jnp.int32)
                row.append(int(jnp.argmax(f(padded)[0, len(row) - 1])))
            result["tokens"].append(row[len(prompt):])
    return result
