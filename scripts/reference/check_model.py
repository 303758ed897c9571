#!/usr/bin/env python3
"""Loads a Gemma 3 270M directory in HF layout (as scripts/prepare_model.py writes it) with Tunix,
greedy-decodes a prompt with the full forward (no KV cache) and prints the top-5 next tokens.

Usage: check_model.py [MODEL_DIR] [--prompt TEXT] [--tokens N]
       (default MODEL_DIR: models/gemma3-270m; run with the reference venv's python)

Tunix's forward: model(last_tokens [B, L] int32, positions [B, L] int32, cache None,
attention_mask [B, L, L] bool, True where a query may attend a key) -> (logits [B, L, V] f32, None).
Sliding-window masking of the local layers is applied inside the model.
"""

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", nargs="?", type=Path, default=ROOT / "models" / "gemma3-270m")
    ap.add_argument("--prompt", default="The capital of France is")
    ap.add_argument("--tokens", type=int, default=12, help="how many tokens to decode greedily")
    args = ap.parse_args()
    d: Path = args.model_dir
    for f in ("model.safetensors", "config.json", "tokenizer.json"):
        if not (d / f).is_file():
            print(f"check_model.py: {d / f} is missing; build it with scripts/setup.sh "
                  f"(or scripts/prepare_model.py)", file=sys.stderr)
            return 1

    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx
    from tokenizers import Tokenizer
    from tunix.models.gemma3 import model as gemma3_model
    from tunix.models.gemma3 import params_safetensors

    hf = json.loads((d / "config.json").read_text())
    bos = hf["bos_token_id"]
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    # tokenizer.json's post-processor prepends <bos>; make sure it is there exactly once.
    ids = [i for i in tok.encode(args.prompt).ids if i != bos]
    ids = [bos] + ids
    print(f"prompt: {args.prompt!r}")
    print(f"prompt ids: {ids}")

    mesh = jax.make_mesh((1, 1), ("fsdp", "tp"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
    cfg = dataclasses.replace(gemma3_model.ModelConfig.gemma3_270m(), param_dtype=jnp.float32)
    t0 = time.time()
    with jax.set_mesh(mesh):
        model = params_safetensors.create_model_from_safe_tensors(str(d), cfg, mesh, dtype=jnp.float32)
    print(f"loaded {d} with Tunix in {time.time() - t0:.1f} s")

    # One compiled forward over a fixed length: the prompt and the decoded tokens, right-padded.
    # The causal mask keeps the padding out of every position that is read.
    total = len(ids) + args.tokens
    positions = jnp.arange(total, dtype=jnp.int32)[None, :]
    mask = jnp.tril(jnp.ones((1, total, total), dtype=jnp.bool_))

    @nnx.jit
    def forward(model, tokens, positions, mask):
        logits, _ = model(tokens, positions, None, mask)
        return logits[0]

    def next_logits(seq):
        buf = np.zeros((1, total), dtype=np.int32)
        buf[0, :len(seq)] = seq
        return np.asarray(forward(model, jnp.asarray(buf), positions, mask)[len(seq) - 1], dtype=np.float32)

    with jax.set_mesh(mesh):
        t0 = time.time()
        last = next_logits(ids)
        print(f"first forward (compiles) {time.time() - t0:.1f} s")
        top = np.argsort(-last)[:5]
        print("top-5 next tokens after the prompt:")
        for i in top:
            print(f"  id {int(i):6d}  logit {float(last[i]):9.4f}  {tok.id_to_token(int(i))!r}")
        t0 = time.time()
        out = []
        for step in range(args.tokens):
            logits = last if step == 0 else next_logits(ids + out)
            nxt = int(np.argmax(logits))
            out.append(nxt)
            if nxt == hf["eos_token_id"]:
                break
        print(f"decoded {len(out)} tokens in {time.time() - t0:.1f} s (a full forward per token)")
    print(f"continuation ids: {out}")
    print(f"continuation: {tok.decode(out, skip_special_tokens=False)!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
