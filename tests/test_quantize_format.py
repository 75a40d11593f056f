"""``sim quantize --format F``: the format registry through the CLI and the API; ``sim compare --functional``."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim import api
from sim.cli import main
from sim.quant.bcq import bcq_bytes
from sim.quant.ternary import ternary_bytes
from sim.results import FormatQuantizeReport


def test_ternary_and_bcq_reports_count_the_packed_buffers(tmp_path):
    out = tmp_path / "t.json"
    assert main(["quantize", "--workload", "tiny", "--format", "ternary", "--json", str(out)]) == 0
    rep = FormatQuantizeReport.from_json(out)
    fc = [x for x in rep.layers if x.quantized]
    assert fc and all(x.kind in ("query", "key", "value", "attn_out", "ffn1", "ffn2", "pooler") for x in fc)
    assert all(x.packed_bytes == ternary_bytes(x.shape[0], x.shape[1], "row") for x in fc)
    assert rep.packed_bytes == sum(x.packed_bytes for x in fc)
    assert rep.bits_per_weight == pytest.approx(8 * rep.packed_bytes / rep.quantized_weights)
    assert 0.3 < rep.rel_l2_error < 0.6 and 0.35 < fc[0].stats["zero_fraction"] < 0.5
    b = api.quantize_format("bcq", "tiny", options={"bits": 2})
    assert all(x.packed_bytes == bcq_bytes(x.shape[0], x.shape[1], 2) for x in b.layers if x.quantized)
    assert b.rel_l2_error < rep.rel_l2_error  # 2-bit BCQ beats ternary (1.58 bits) on the same weights


def test_mixed_bit_embeddings_follow_the_frequencies(tmp_path):
    wl = api.prepare("tpu", "tiny").workload
    freq = np.zeros(wl.vocab)
    freq[[3, 11]] = [5, 9]
    f = tmp_path / "freq.txt"
    f.write_text("\n".join(str(int(x)) for x in freq))
    out = tmp_path / "b.json"
    assert main(["quantize", "--workload", "tiny", "--format", "bcq", "--embeddings", "--token-frequencies", str(f),
                 "--json", str(out)]) == 0
    emb = next(x for x in json.loads(out.read_text())["layers"] if x["kind"] == "word_emb")
    assert emb["quantized"] and set(emb["stats"]["tiers"]) == {"4", "3", "2"}


def test_bad_format_input_is_one_line(capsys, tmp_path):
    assert main(["quantize", "--workload", "tiny", "--format", "olive9"]) == 2
    assert "unknown weight format 'olive9'" in capsys.readouterr().err
    assert main(["quantize", "--workload", "tiny", "--format", "ternary", "--bits", "2"]) == 2
    assert main(["quantize", "--workload", "tiny", "--granularity", "row"]) == 2  # gobo has no granularity
    bad = tmp_path / "f.txt"
    bad.write_text("1 2 x")
    assert main(["quantize", "--workload", "tiny", "--format", "bcq", "--embeddings", "--token-frequencies",
                 str(bad)]) == 2
    err = capsys.readouterr().err
    assert "one number per vocabulary row" in err and len(err.strip().splitlines()) == 3


def test_compare_reports_the_functional_check():
    rep = api.compare("tiny", ["ternary", "biqgemm", "tpu", "tcore"], functional=True)
    assert [d.functional_checked for d in rep.designs] == [True, True, True, None]
    assert all(d.cosine_vs_float is not None for d in rep.designs)
