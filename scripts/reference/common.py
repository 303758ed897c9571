# Shared by the reference scripts that grpo-xla embeds: JSON arrays in, JSON arrays out.
import json
import sys

import numpy as np


def arr(v):
    """A JSON array {"shape","dtype","data"} as a numpy array."""
    dtype = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "ui32": np.uint32,
             "i64": np.int64, "ui64": np.uint64, "i1": np.bool_}[v["dtype"]]
    return np.asarray(v["data"], dtype=dtype).reshape(v["shape"])


def out(a):
    a = np.asarray(a)
    name = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64", np.dtype(np.int32): "i32",
            np.dtype(np.uint32): "ui32", np.dtype(np.int64): "i64", np.dtype(np.uint64): "ui64",
            np.dtype(np.bool_): "i1"}.get(a.dtype, str(a.dtype))
    return {"shape": list(a.shape), "dtype": name, "data": a.reshape(-1).tolist()}


def run(main):
    inputs = json.loads(sys.stdin.read() or "{}")
    result = main(inputs)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
