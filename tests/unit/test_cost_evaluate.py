"""evaluate() over arrays: same answers as one row at a time, consistent memory and batch limits."""
from __future__ import annotations

import numpy as np
import pytest

from autotune.specs.candidates import Candidates
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.workload import Workload
from cost_models import evaluate, load_params, max_batch

MODEL = load_model("llama-3.1-8b")
WORKLOAD = Workload(input_len=1024, output_len=256, dtype="bf16")


def grid(cards: int) -> Candidates:
    rows = [(tp, pp, dp, b) for tp in (1, 2, 4, 8) for pp in (1, 2) for dp in (1, 2) for b in (1, 16, 64)]
    tp, pp, dp, b = (np.array(v, dtype=np.int64) for v in zip(*rows))
    return Candidates(tp=tp, pp=pp, dp=dp, batch=b, cards=cards)


@pytest.mark.parametrize("hardware_name", ["h100-sxm", "rngd"])
def test_vectorized_equals_row_by_row(hardware_name):
    hardware = load_hardware(hardware_name)
    cands = grid(8)
    table = evaluate(MODEL, hardware, WORKLOAD, cands)
    for i in (0, 7, 20, len(cands) - 1):
        one = Candidates.single(tp=int(cands.tp[i]), pp=int(cands.pp[i]), dp=int(cands.dp[i]),
                                batch=int(cands.batch[i]), cards=8)
        single = evaluate(MODEL, hardware, WORKLOAD, one)
        assert single.tpot_s[0] == pytest.approx(table.tpot_s[i])
        assert single.total_bytes[0] == pytest.approx(table.total_bytes[i])


def test_table_is_consistent():
    hardware = load_hardware("h100-sxm")
    cands = grid(8)
    table = evaluate(MODEL, hardware, WORKLOAD, cands)
    total = table.weights_bytes + table.kv_cache_bytes + table.activations_bytes + table.reserved_bytes
    assert np.allclose(total, table.total_bytes)
    assert np.all(table.fits_memory[cands.batch <= table.max_batch])
    assert np.all(table.ttft_s > 0) and np.all(table.tpot_s > 0)
    assert np.allclose(table.e2e_latency_s, table.ttft_s + (WORKLOAD.output_len - 1) * table.tpot_s)
    assert np.allclose(table.throughput_tokens_per_s, cands.dp * cands.batch / table.tpot_s)
    assert np.array_equal(table.devices_used, cands.tp * cands.pp * cands.dp)


def test_bigger_batch_raises_throughput_and_tpot():
    hardware = load_hardware("h100-sxm")
    cands = Candidates(tp=np.array([1, 1]), pp=np.array([1, 1]), dp=np.array([1, 1]), batch=np.array([1, 32]),
                       cards=1)
    table = evaluate(MODEL, hardware, WORKLOAD, cands)
    assert table.throughput_tokens_per_s[1] > 4 * table.throughput_tokens_per_s[0]
    assert table.tpot_s[1] > table.tpot_s[0]


def test_max_batch_entry_point_matches_the_table():
    hardware = load_hardware("rngd")
    cands = grid(4)
    assert np.array_equal(max_batch(MODEL, hardware, WORKLOAD, cands), evaluate(MODEL, hardware, WORKLOAD, cands).max_batch)


def test_rngd_uses_shared_parameters_and_its_own_reserve():
    params = load_params()
    hardware = load_hardware("rngd")
    table = evaluate(MODEL, hardware, WORKLOAD, Candidates.single(tp=8, pp=1, dp=1, batch=1, cards=1), params)
    assert table.reserved_bytes[0] == pytest.approx(params.runtime_reserve_bytes["rngd"])
