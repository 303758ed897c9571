

def main(inputs):
    """Restores our Orbax exports the ways Tunix users do, and returns each restored model's
    logits on the test's tokens and its greedy continuation:
    - `standard`: `StandardCheckpointer().restore(path, target=abstract_state)` + `nnx.merge`;
    - `manager`: `tunix.sft.CheckpointManager(root).maybe_restore(model)` (f32 and bf16 exports);
    - `upstream`: `tunix.models.gemma3.params.create_model_from_checkpoint(path, cfg)`;
    - `lora`: qwix's LoRA applied to the base model as Tunix's demo does, then
      `CheckpointManager(root).maybe_restore(lora_model, restore_only_lora_params=True)`.
    The f32 model the manager restored is saved again with Tunix's defaults (OCDBT): through its
    `CheckpointManager` into `saves.manager_root`, and `StandardCheckpointer` into
    `saves.standard_tree`, for the test to read back.
    For the bf16 export it also returns max |restored - bf16(our f32 weights)| over every array."""
    import flax.nnx as nnx
    import orbax.checkpoint as ocp
    import qwix
    from tunix.models.gemma3 import model as m, params as gparams
    from tunix.sft.checkpoint_manager import CheckpointManager

    jax.config.update("jax_default_matmul_precision", "highest")
    c = inputs["config"]
    cfg = m.ModelConfig(num_layers=c["num_layers"], num_embed=c["vocab"], embed_dim=c["d"], hidden_dim=c["f"],
                        num_heads=c["n"], head_dim=c["h"], num_kv_heads=c["k"], sliding_window_size=c["window"],
                        local_base_frequency=10_000, global_base_frequency=1_000_000)
    mesh = jax.make_mesh((1, 1), ("fsdp", "tp"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
    tokens = jnp.asarray(arr(inputs["tokens"]))
    result = {}

    def report(name, model):
        logits = np.asarray(forward(model, tokens), np.float32)
        row = list(inputs["prompt"])
        # Not jitted: qwix's LoRA sets attributes while it runs, which a jax.jit trace forbids.
        for _ in range(inputs["steps"]):
            padded = jnp.asarray([row + [0] * (inputs["length"] - len(row))], jnp.int32)
            row.append(int(jnp.argmax(forward(model, padded)[0, len(row) - 1])))
        result[name] = {"logits": out(logits), "greedy": row[len(inputs["prompt"]):]}

    def fresh(dtype):
        return m.Gemma3(dataclasses.replace(cfg, param_dtype=dtype), rngs=nnx.Rngs(0))

    with jax.set_mesh(mesh):
        exports = inputs["exports"]
        # StandardCheckpointer with an abstract target, then nnx.merge.
        # (the notebook's recipe: shape/dtype structs carrying the mesh's named shardings).
        abstract = nnx.eval_shape(lambda: fresh(jnp.float32))
        graphdef, abstract_state = nnx.split(abstract)
        abstract_state = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                                      abstract_state, nnx.get_named_sharding(abstract_state, mesh))
        state = ocp.StandardCheckpointer().restore(exports["nnx_f32_tree"], target=abstract_state)
        report("standard", nnx.merge(graphdef, state))
        # Tunix's own checkpoint manager, f32 and bf16.
        for name, dtype in [("manager", jnp.float32), ("manager_bf16", jnp.bfloat16)]:
            model = fresh(dtype)
            step, _ = CheckpointManager(exports["nnx_f32_root" if dtype == jnp.float32 else "nnx_bf16_root"]).maybe_restore(model)
            assert step == inputs["step"], (name, step)
            if dtype == jnp.float32:
                report(name, model)
                # Saved back the ways Tunix saves by default (Orbax's OCDBT layout), for us to read.
                saver = CheckpointManager(inputs["saves"]["manager_root"])
                saver.save(inputs["step"], model, force=True)
                saver.close()
                standard = ocp.StandardCheckpointer()
                standard.save(inputs["saves"]["standard_tree"], nnx.state(model, nnx.Param))
                standard.wait_until_finished()
            else:
                bf16_state = nnx.state(model)
        # Google's upstream tree through Tunix's Gemma 3 loader.
        report("upstream", gparams.create_model_from_checkpoint(exports["upstream_tree"], cfg, dtype=jnp.float32))
        # bf16 arrays against our f32 weights rounded to bf16 (Tunix's safetensors loader, f32).
        from tunix.models.gemma3 import params_safetensors as ps
        f32_model = ps.create_model_from_safe_tensors(exports["merged_hf"], dataclasses.replace(cfg, param_dtype=jnp.float32), mesh, dtype=jnp.float32)
        ours = jax.tree.leaves(nnx.state(f32_model))
        theirs = jax.tree.leaves(bf16_state)
        result["bf16_dtypes"] = sorted({str(t.dtype) for t in theirs})
        result["bf16_max_diff"] = max(float(jnp.max(jnp.abs(o.astype(jnp.bfloat16).astype(jnp.float32) - t.astype(jnp.float32)))) for o, t in zip(ours, theirs))
        # LoRA adapters onto the base model.
        lora = json.load(open(exports["lora_root"] + "/lora.json"))
        base = ps.create_model_from_safe_tensors(exports["base_hf"], dataclasses.replace(cfg, param_dtype=jnp.float32), mesh, dtype=jnp.float32)
        provider = qwix.LoraProvider(module_path=lora["module_path"], rank=lora["rank"], alpha=lora["alpha"])
        lora_model = qwix.apply_lora_to_model(base, provider, rngs=nnx.Rngs(0), **base.get_model_input())
        step, _ = CheckpointManager(exports["lora_root"]).maybe_restore(lora_model, restore_only_lora_params=True)
        assert step == inputs["step"], ("lora", step)
        report("lora", lora_model)
    return result
