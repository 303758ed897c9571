def main(inputs):
    """Tunix's own GRPO training step, timed in steady state: `GRPOLearner.train` on an
    `RLCluster` whose actor, reference and rollout roles all live on the one (1x1) mesh,
    the vanilla rollout engine (Tunix's Sampler), a cheap length reward, the reference
    model's per-token log-probs (beta > 0) and one clipped-AdamW update per step
    (mini batch = micro batch = the P prompts, so every step is exactly one update).

    Actor: the base model with qwix LoRA applied (Tunix then shares the frozen backbone
    with the reference role, as its GRPO demo does), or, with `lora` null, a separate full
    copy of the weights. The prompts come as left-padded token ids; Tunix's learner takes
    text, so they are decoded (pads and the leading BOS dropped) and Tunix re-tokenizes
    them, left-padding to T again (`prompt_len_retokenized`, `prompt_ids_match` check it).
    EOS is disabled (`eos_tokens=[-1]`, an id no token has) so every row samples exactly
    `max_new_tokens` tokens (`completion_len_mean` is Tunix's own completion-length metric).

    Timing: the reward function runs once per step, right after that step's rollout and
    reference log-probs, so the time between successive calls is one whole step (update of
    the previous batch + rollout + reference log-probs + reward). The update is first
    compiled between calls 1 and 2, so `steps + 2` steps run: `first_s` is from the start
    of `train` to call 2 (all compilation plus the first step), `steps_s` the `steps`
    intervals after that."""
    import time
    import flax.nnx as nnx
    import numpy as np
    import optax
    import qwix
    import transformers
    from tunix.generate import tokenizer_adapter
    from tunix.rl import rl_cluster as rl
    from tunix.rl.grpo import grpo_learner
    from tunix.rl.rollout import base_rollout

    prompt_ids = arr(inputs["prompt_ids"])
    n_prompts, t = prompt_ids.shape
    g, n, steps = inputs["num_generations"], inputs["max_new_tokens"], inputs["steps"]

    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=inputs["model_dir"] + "/tokenizer.json")
    tok.pad_token_id, tok.bos_token_id, tok.eos_token_id = 0, 2, 1
    texts, match, retok_len = [], True, 0
    adapter = tokenizer_adapter.TokenizerAdapter(tok)
    for row in prompt_ids.tolist():
        ids = [i for i in row if i != 0]
        text = tok.decode(ids[1:] if ids[:1] == [2] else ids, skip_special_tokens=False)
        again = adapter.dedup_bos_ids([adapter.bos_id()] + adapter.encode(text))  # = Sampler.tokenize
        match &= again == ids
        retok_len = max(retok_len, len(again))
        texts.append(text)

    o = inputs["optimizer"]
    tx = optax.chain(optax.clip_by_global_norm(o["max_grad_norm"]),
                     optax.adamw(o["learning_rate"], b1=o["b1"], b2=o["b2"], eps=o["eps"],
                                 weight_decay=o["weight_decay"]))
    model, mesh = load(inputs)
    reward_times, lengths = [], []

    def reward(prompts, completions, **_):
        reward_times.append(time.perf_counter())
        return [float(len(c)) for c in completions]

    def collect(buffer):
        if "completions/mean_length" in buffer.metrics:
            lengths.extend(float(v) for v in buffer.metrics["completions/mean_length"][0])

    with jax.set_mesh(mesh):
        if inputs.get("lora"):
            l = inputs["lora"]
            provider = qwix.LoraProvider(module_path=l["module_path"], rank=l["rank"], alpha=l["alpha"])
            actor = qwix.apply_lora_to_model(model, provider, rngs=nnx.Rngs(0), **model.get_model_input())
        else:
            graph, state = nnx.split(model)
            actor = nnx.merge(graph, jax.tree.map(jnp.copy, state))
        training = rl.RLTrainingConfig(
            actor_optimizer=tx, eval_every_n_steps=10**9, max_steps=steps + 2,
            mini_batch_size=n_prompts, train_micro_batch_size=n_prompts)
        rollout = base_rollout.RolloutConfig(
            max_tokens_to_generate=n, max_prompt_length=t, kv_cache_size=t + n + 8,
            temperature=inputs["temperature"], top_k=inputs.get("top_k"),
            top_p=inputs.get("top_p") or 1.0,  # top_p None would make Tunix's sampler greedy
            eos_tokens=[-1])
        cluster = rl.RLCluster(
            actor=actor, reference=model, tokenizer=tok,
            cluster_config=rl.ClusterConfig(
                role_to_mesh={r: mesh for r in (rl.Role.ACTOR, rl.Role.REFERENCE, rl.Role.ROLLOUT)},
                rollout_engine="vanilla", offload_to_cpu=False,
                training_config=training, rollout_config=rollout))
        cluster.with_external_metrics_logger(collect)
        learner = grpo_learner.GRPOLearner(
            cluster, reward_fns=[reward],
            algo_config=grpo_learner.GRPOConfig(
                num_generations=g, num_iterations=inputs.get("num_iterations", 1),
                beta=inputs["beta"], epsilon=inputs["epsilon"]))
        batch = {"prompts": np.array(texts)}
        start = time.perf_counter()
        learner.train([dict(batch) for _ in range(steps + 2)])
    if len(reward_times) != steps + 2:
        raise RuntimeError(f"expected {steps + 2} reward calls, got {len(reward_times)}")
    return {"first_s": reward_times[1] - start,
            "steps_s": [b - a for a, b in zip(reward_times[1:], reward_times[2:])],
            "completion_len_mean": float(np.mean(lengths)) if lengths else None,
            "prompt_len_retokenized": retok_len, "prompt_ids_match": bool(match),
            "tunix_version": "0.1.7"}
