"""Writes an HF folder with the real Gemma 3 270M's tensor names and shapes but random f32
weights (matrices N(0, 0.02^2), norms 0), beside its real config and tokenizer: a GPU machine
cannot receive the 1 GB checkpoint, and speed does not depend on the values.
Usage: python3 random_model.py SRC_DIR OUT_DIR (SRC_DIR holds shapes.json, config.json, tokenizer*)."""
import json, shutil, sys
import numpy as np
from safetensors.numpy import save_file

src, dst = sys.argv[1], sys.argv[2]
shapes = json.load(open(f"{src}/shapes.json"))
rng = np.random.default_rng(0)
tensors = {}
for name, shape in shapes.items():
    if name.endswith("norm.weight"):
        tensors[name] = np.zeros(shape, np.float32)
    else:
        tensors[name] = (rng.standard_normal(shape, np.float32) * 0.02).astype(np.float32)
import os
os.makedirs(dst, exist_ok=True)
save_file(tensors, f"{dst}/model.safetensors")
for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
    shutil.copy(f"{src}/{f}", f"{dst}/{f}")
print(f"{dst}: {sum(int(np.prod(s)) for s in shapes.values()):,} random params")
