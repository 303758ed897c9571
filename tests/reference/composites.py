# Reference implementations, written independently in JAX, of the composites grpo-xla builds.
# Each takes the test's arrays and returns the scalar loss and its gradient w.r.t. the
# differentiable inputs (jax.grad), or for "adamw" the optimizer state after optax's updates.
import jax
import jax.numpy as jnp

jax.config.update("jax_default_matmul_precision", "highest")


def rms_norm(x, scale, eps=1e-6):
    var = jnp.mean(jnp.square(x), axis=-1, keepdims=True)
    return x * jax.lax.rsqrt(var + eps) * (1 + scale)


def rope(x, positions, base, scale=1.0):
    h = x.shape[-1]
    fraction = 2 * jnp.arange(0, h // 2) / h
    timescale = base ** fraction
    angle = positions[..., None] / timescale[None, None, :]
    angle = angle[..., None, :] / scale
    sin, cos = jnp.sin(angle), jnp.cos(angle)
    a, b = jnp.split(x, 2, axis=-1)
    return jnp.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


def attention(x, positions, q_w, kv_w, o_w, q_norm, k_norm, cfg):
    q = jnp.einsum("BTD,NDH->BTNH", x, q_w)
    k, v = jnp.einsum("BSD,CKDH->CBSKH", x, kv_w)
    q, k = rms_norm(q, q_norm), rms_norm(k, k_norm)
    q = rope(q, positions, cfg["rope_base"]) * cfg["query_scale"]
    k = rope(k, positions, cfg["rope_base"])
    b, t, n, h = q.shape
    kh = k.shape[2]
    q = q.reshape(b, t, kh, n // kh, h)
    logits = jnp.einsum("BTKGH,BSKH->BTKGS", q, k)
    cap = cfg["softcap"]
    logits = jnp.tanh(logits / cap) * cap
    qp, kp = positions[:, :, None], positions[:, None, :]
    mask = (kp <= qp) & (qp - kp < cfg["window"])
    logits = jnp.where(mask[:, :, None, None, :], logits, -2.3819763e38)
    probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
    enc = jnp.einsum("BTKGS,BSKH->BTKGH", probs, v).reshape(b, t, n, h)
    return jnp.einsum("BTNH,NHD->BTD", enc, o_w)


def gated_mlp(x, gate, up, down):
    return (jax.nn.gelu(x @ gate, approximate=True) * (x @ up)) @ down


def grpo_loss(logp, old, ref, adv, mask, beta, eps, eps_high):
    ratio = jnp.exp(logp - old)
    a = adv[:, None]
    per_token = -jnp.minimum(ratio * a, jnp.clip(ratio, 1 - eps, 1 + eps_high) * a)
    per_token = per_token + beta * (jnp.exp(ref - logp) - (ref - logp) - 1)
    seq = jnp.sum(per_token * mask, axis=-1) / jnp.clip(jnp.sum(mask, axis=-1), min=1)
    return jnp.mean(seq)


def main(inputs):
    fn = inputs["fn"]
    a = {k: jnp.asarray(arr(v)) for k, v in inputs["arrays"].items()}
    diff = inputs["diff"]
    cfg = inputs.get("cfg", {})
    if fn == "adamw":
        import optax
        sched = optax.warmup_cosine_decay_schedule(0.0, cfg["lr"], cfg["warmup"], cfg["decay"], 0.0)
        opt = optax.chain(optax.clip_by_global_norm(cfg["clip"]),
                          optax.adamw(sched, b1=cfg["b1"], b2=cfg["b2"], eps=cfg["eps"], weight_decay=cfg["wd"]))
        params = {"p0": a["p0"], "p1": a["p1"]}
        state = opt.init(params)
        for step in range(cfg["steps"]):
            grads = {"p0": a[f"g0_{step}"], "p1": a[f"g1_{step}"]}
            updates, state = opt.update(grads, state, params)
            params = optax.apply_updates(params, updates)
        adam = state[1][0]
        return {"p0": out(params["p0"]), "p1": out(params["p1"]),
                "mu0": out(adam.mu["p0"]), "nu0": out(adam.nu["p0"])}

    def loss(*xs):
        env = dict(a)
        env.update(zip(diff, xs))
        e = env
        if fn == "mlp":
            y = gated_mlp(e["x"], e["gate"], e["up"], e["down"])
        elif fn == "rms_norm":
            y = rms_norm(e["x"], e["scale"])
        elif fn == "rope":
            y = rope(e["x"], e["positions"].astype(jnp.float32), cfg["base"])
        elif fn == "attention":
            y = attention(e["x"], e["positions"].astype(jnp.float32), e["q"], e["kv"], e["o"], e["q_norm"], e["k_norm"], cfg)
        elif fn == "token_log_probs":
            lp = jax.nn.log_softmax(e["logits"], axis=-1)
            y = jnp.take_along_axis(lp, e["targets"][..., None], axis=-1)[..., 0]
        elif fn == "grpo":
            return grpo_loss(e["logp"], e["old"], e["ref"], e["adv"], e["mask"], cfg["beta"], cfg["eps"], cfg["eps_high"])
        else:
            raise ValueError(fn)
        return jnp.sum(y * e["w"])

    xs = [a[k] for k in diff]
    value, grads = jax.value_and_grad(loss, argnums=tuple(range(len(xs))))(*xs)
    return {"loss": float(value), "grads": [out(g) for g in grads]}
