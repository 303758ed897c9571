

def main(inputs):
    """Tunix's supervised step on the batch grpo-xla trains on: Tunix's Gemma (in the config's
    dtype) with qwix's LoRA (the demo's targets), PeftTrainer's own jitted train step (value_and_grad over the LoRA
    params, optax's clipped AdamW) on `sft_loss` (tests/reference/sft_loss.py). Returns the
    first call's seconds (compile included) and each following step's seconds."""
    import time
    import flax.nnx as nnx
    import optax
    import qwix
    from tunix.sft import peft_trainer

    model, mesh = load(inputs)
    a = lambda k: jnp.asarray(arr(inputs[k]))
    batch = {"prompt": a("prompt_ids"), "target": a("target_ids"), "mask": a("target_mask")}

    o = inputs["optimizer"]
    tx = optax.chain(optax.clip_by_global_norm(o["max_grad_norm"]),
                     optax.adamw(o["learning_rate"], b1=o["b1"], b2=o["b2"], eps=o["eps"],
                                 weight_decay=o["weight_decay"]))
    with jax.set_mesh(mesh):
        if inputs.get("lora"):
            l = inputs["lora"]
            provider = qwix.LoraProvider(module_path=l["module_path"], rank=l["rank"], alpha=l["alpha"])
            model = qwix.apply_lora_to_model(model, provider, rngs=nnx.Rngs(0), **model.get_model_input())
        config = peft_trainer.TrainingConfig(eval_every_n_steps=10**9, max_steps=10**9)
        trainer = peft_trainer.PeftTrainer(model, tx, config)
        trainer = trainer.with_loss_fn(sft_loss).with_gen_model_input_fn(lambda x: x)
        train_step, _ = trainer.jit_train_and_eval_step()
        times, losses = [], []
        for _ in range(inputs["steps"] + 1):
            t = time.perf_counter()
            loss, _, _ = train_step(batch)
            loss.block_until_ready()
            times.append(time.perf_counter() - t)
            losses.append(float(loss))
    return {"first_s": times[0], "steps_s": times[1:], "first_loss": losses[0]}
