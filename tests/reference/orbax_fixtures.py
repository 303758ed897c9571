"""Writes Orbax/tensorstore checkpoints (OCDBT and zarr, as Orbax 0.12.8 and Tunix save them,
plus tensorstore-written stores using the format's other features) and what the Rust tests
expect of them, into `inputs["out"]` (tests/orbax_ocdbt.rs runs it through grpo-xla's reference
environment, 3-4 s).

Each fixture folder gets an `expected.json`: for every array, its store key, shape, dtype
(zarr v3 name), byte length, CRC-32C of its little-endian C-order bytes and, for small
arrays, the bytes themselves in hex. Raw-kvstore fixtures list every key with its value's
CRC-32C instead. The values are chosen to compress well (the fixtures stay well under 1 MB)
while the small arrays hold awkward bit patterns (NaN, -0, inf, subnormals).
"""

import json
import os
import shutil
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# Four CPU devices, so that arrays can be sharded the way they are on accelerators.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import tensorstore as ts

HERE = None  # set by main
HEX_LIMIT = 4096


def crc32c(data: bytes) -> int:
    """Bitwise CRC-32C (Castagnoli), independent of the Rust table-driven one."""
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def dtype_name(a) -> str:
    name = str(a.dtype)
    return {"bool": "bool"}.get(name, name)


def describe(key: str, a) -> dict:
    raw = np.ascontiguousarray(np.asarray(a)).astype(np.asarray(a).dtype.newbyteorder("<")).tobytes()
    entry = {
        "key": key,
        "shape": list(np.shape(a)),
        "dtype": dtype_name(np.asarray(a)),
        "nbytes": len(raw),
        "crc32c": crc32c(raw),
    }
    if len(raw) <= HEX_LIMIT:
        entry["hex"] = raw.hex()
    return entry


def flatten(tree, prefix=()):
    """(key tuple, leaf) pairs; Orbax names each array by its keys joined with '.'."""
    if isinstance(tree, dict):
        for k in sorted(tree):
            yield from flatten(tree[k], prefix + (str(k),))
    else:
        yield prefix, tree


def awkward_f32(n: int, seed: int) -> np.ndarray:
    rs = np.random.RandomState(seed)
    a = rs.standard_normal(n).astype(np.float32)
    specials = np.array(
        [np.nan, -0.0, np.inf, -np.inf, 1e-45, np.finfo(np.float32).max, -1.5], np.float32
    )
    a[: min(n, len(specials))] = specials[: min(n, len(specials))]
    return a


def tiled_f32(shape, seed: int, block: int = 1024) -> np.ndarray:
    """A block of 16 distinct values in random order, tiled: zstd shrinks it to a few KB,
    still more than Orbax's 1024-byte inline limit, so the chunk lands in a data file."""
    n = int(np.prod(shape))
    tile = np.random.RandomState(seed).randint(-8, 8, block).astype(np.float32) * 0.375
    return np.resize(tile, n).reshape(shape)


def random_f32(shape, seed: int) -> np.ndarray:
    return np.random.RandomState(seed).standard_normal(shape).astype(np.float32)


def base_tree():
    return {
        "params": {
            "a": awkward_f32(12, 0).reshape(3, 4),
            "b": {"c": jnp.asarray(awkward_f32(5, 1), dtype=jnp.bfloat16)},
            "big": tiled_f32((300, 700), 3),
            "ints": np.arange(-3, 4, dtype=np.int32),
            "scalar": np.float32(2.5),
        }
    }


def fresh(name: str) -> str:
    path = os.path.join(HERE, name)
    shutil.rmtree(path, ignore_errors=True)
    return path


def write_expected(path: str, tree, extra=None):
    arrays = [describe(".".join(keys), leaf) for keys, leaf in flatten(tree)]
    doc = {"arrays": arrays}
    if extra:
        doc.update(extra)
    with open(os.path.join(path, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)


def standard():
    """Orbax's StandardCheckpointer with every default (OCDBT + zarr v2 + zstd)."""
    path = fresh("standard")
    tree = base_tree()
    ck = ocp.StandardCheckpointer()
    ck.save(path, tree)
    ck.wait_until_finished()
    write_expected(path, tree)


def pytree_chunked():
    """PyTreeCheckpointer defaults, plus arrays split into several chunks by chunk_byte_size."""
    path = fresh("pytree")
    tree = base_tree()
    tree["params"]["chunked"] = random_f32((64, 48), 5)
    tree["params"]["chunked_bf16"] = jnp.asarray(random_f32((40, 30), 6), jnp.bfloat16)
    save_args = jax.tree.map(lambda _: ocp.SaveArgs(), tree)
    save_args["params"]["chunked"] = ocp.SaveArgs(chunk_byte_size=2048)
    save_args["params"]["chunked_bf16"] = ocp.SaveArgs(chunk_byte_size=512)
    ck = ocp.PyTreeCheckpointer()
    ck.save(path, args=ocp.args.PyTreeSave(tree, save_args=save_args))
    write_expected(path, tree)


def zarr3():
    """Orbax with use_zarr3=True: sharding_indexed codec with bytes + zstd inside."""
    path = fresh("zarr3")
    tree = base_tree()
    tree["params"]["chunked"] = random_f32((64, 48), 5)
    save_args = jax.tree.map(lambda _: ocp.SaveArgs(), tree)
    save_args["params"]["chunked"] = ocp.SaveArgs(chunk_byte_size=2048)
    ck = ocp.Checkpointer(ocp.PyTreeCheckpointHandler(use_zarr3=True))
    ck.save(path, args=ocp.args.PyTreeSave(tree, save_args=save_args))
    write_expected(path, tree)


def sharded(name: str, use_zarr3: bool):
    """Arrays sharded over a 2x2 device mesh: each device's shard is written as its own chunk
    (zarr v2) or shard (zarr v3), some replicated along a mesh axis."""
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

    path = fresh(name)
    mesh = Mesh(np.array(jax.devices()[:4]).reshape(2, 2), ("x", "y"))
    put = lambda a, *spec: jax.device_put(a, NamedSharding(mesh, P(*spec)))
    tree = {
        "w": put(random_f32((8, 6), 9), "x", "y"),
        "e": put(jnp.asarray(random_f32((4, 8), 10), jnp.bfloat16), None, "x"),
        "big": put(tiled_f32((512, 700), 11), "x", None),
    }
    ck = ocp.Checkpointer(ocp.PyTreeCheckpointHandler(use_zarr3=use_zarr3))
    ck.save(path, args=ocp.args.PyTreeSave(tree))
    write_expected(path, tree)


def many():
    """300 small arrays in one checkpoint: many B+tree entries sharing key prefixes."""
    path = fresh("many")
    tree = {"layers": {f"{i:03d}": {"w": np.full((2,), i, np.float32)} for i in range(300)}}
    ck = ocp.StandardCheckpointer()
    ck.save(path, tree)
    ck.wait_until_finished()
    write_expected(path, tree)


def tunix_manager():
    """tunix.sft.CheckpointManager: `<root>/<step>/model_params/` holds the OCDBT store."""
    from flax import nnx
    from tunix.sft.checkpoint_manager import CheckpointManager

    root = fresh("tunix")
    model = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    manager = CheckpointManager(root)
    manager.save(1, model, force=True)
    manager.close()  # waits for the asynchronous save to finish
    state = nnx.state(model)
    tree = {k: {"value": np.asarray(v.get_value())} for k, v in state.items()}
    write_expected(os.path.join(root, "1", "model_params"), tree)


def raw_zarr():
    """Zarr arrays written by tensorstore itself into one OCDBT store, using codecs and
    settings Orbax does not (transpose, big endian, crc32c, index at the start, inner chunks
    smaller than the shard, F order, fill values with chunks never written), plus two arrays
    whose codec this reader refuses (gzip, blosc)."""
    path = fresh("raw_zarr")
    kvstore = {"driver": "ocdbt", "base": f"file://{path}"}
    ctx = ts.Context()

    def create(key, driver, metadata):
        spec = {"driver": driver, "kvstore": {**kvstore, "path": key + "/"}, "metadata": metadata}
        return ts.open(spec, create=True, context=ctx).result()

    def grid(chunk):
        return {"name": "regular", "configuration": {"chunk_shape": chunk}}

    arrays = []
    t = create("t", "zarr3", {
        "shape": [5, 7], "data_type": "float32", "chunk_grid": grid([2, 3]), "fill_value": 1.5,
        "codecs": [{"name": "transpose", "configuration": {"order": [1, 0]}},
                   {"name": "bytes", "configuration": {"endian": "big"}},
                   {"name": "zstd", "configuration": {"level": 1}}, {"name": "crc32c"}]})
    t[0:3, 1:5] = random_f32((3, 4), 7)
    arrays.append(("t", t))
    sh = create("s", "zarr3", {
        "shape": [8, 6], "data_type": "bfloat16", "chunk_grid": grid([4, 6]), "fill_value": -2.0,
        "codecs": [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": [2, 3], "index_location": "start",
            "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
            "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                             {"name": "crc32c"}]}}]})
    sh[0:3, 0:3] = random_f32((3, 3), 8).astype(jnp.bfloat16)
    arrays.append(("s", sh))
    f = create("f", "zarr", {"shape": [4, 5], "chunks": [3, 2], "dtype": ">f8", "order": "F",
                             "fill_value": 7.0, "compressor": None})
    f[1:4, 0:3] = np.arange(9, dtype=np.float64).reshape(3, 3) - 4
    arrays.append(("f", f))
    i = create("i", "zarr", {"shape": [3, 3], "chunks": [2, 2], "dtype": "<i2",
                             "dimension_separator": "/", "compressor": {"id": "zstd", "level": 3}})
    i[...] = np.arange(9, dtype=np.int16).reshape(3, 3) * -300
    arrays.append(("i", i))
    g = create("gz", "zarr3", {"shape": [2], "data_type": "float32", "chunk_grid": grid([2]),
                               "codecs": [{"name": "bytes"}, {"name": "gzip"}]})
    g[...] = [1, 2]
    b = create("bl", "zarr", {"shape": [2], "chunks": [2], "dtype": "<f4",
                              "compressor": {"id": "blosc"}})
    b[...] = [1, 2]
    doc = {"arrays": [describe(k, a.read().result()) for k, a in arrays],
           "unsupported": {"gz": "gzip", "bl": "blosc"}}
    with open(os.path.join(path, "expected.json"), "w") as out:
        json.dump(doc, out, indent=1)


def raw_kvstore(name: str, config: dict, commits: int):
    """A bare tensorstore OCDBT store (no Orbax) with tiny nodes, so the B+tree grows interior
    nodes and the version tree grows past the inline versions; one key per commit batch."""
    path = fresh(name)
    spec = {"driver": "ocdbt", "base": f"file://{path}", "config": config}
    kv = ts.KvStore.open(spec).result()
    values = {}
    for c in range(commits):
        with ts.Transaction() as txn:
            for i in range(20):
                key = f"group{c % 3}/item{c:03d}_{i:02d}"
                value = (f"value {c} {i} " * (1 + (i * 13) % 40)).encode()
                kv.with_transaction(txn)[key] = value
                values[key] = value
    kv.delete_range(ts.KvStore.KeyRange("group1/item001_00", "group1/item001_05")).result()
    for key in list(values):
        if "group1/item001_00" <= key < "group1/item001_05":
            del values[key]
    listed = sorted(k.decode() for k in kv.list().result())
    assert listed == sorted(values), (listed[:5], sorted(values)[:5])
    doc = {"keys": [{"key": k, "nbytes": len(values[k]), "crc32c": crc32c(values[k])} for k in sorted(values)]}
    with open(os.path.join(path, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1)


def write_all():
    standard()
    pytree_chunked()
    zarr3()
    many()
    sharded("sharded", use_zarr3=False)
    sharded("sharded_zarr3", use_zarr3=True)
    tunix_manager()
    raw_zarr()
    raw_kvstore(
        "raw_btree",
        {"max_decoded_node_bytes": 512, "max_inline_value_bytes": 64, "version_tree_arity_log2": 1,
         "compression": None},
        commits=9,
    )
    raw_kvstore(
        "raw_numbered",
        {"manifest_kind": "numbered", "max_inline_value_bytes": 100, "compression": {"id": "zstd"}},
        commits=3,
    )
    total = sum(
        os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(HERE) for f in fs
    )
    return total


def main(inputs):
    global HERE
    HERE = inputs["out"]
    os.makedirs(HERE, exist_ok=True)
    return {"bytes": write_all()}
