"""RNGD's all-reduce among the PEs of one card against its measured times (cost_models/collectives_fit.py).

Golden values: third-party furiosa.torch measurement on one RNGD card, 8 KB bf16 activation of one
token, both all-reduces of a decoder layer: 5.65 / 23.99 / 115.08 us at TP 2 / 4 / 8
(swsok/heteropilot experiments/results/rngd_collective_measured.md, quoted in furiosa-llm.md section 6;
cost_models/data/rngd_collectives.csv).
"""
from __future__ import annotations

import numpy as np
import pytest

from autotune import api
from cost_models.collectives_fit import fit_pairwise, load_points
from cost_models.comm import tp_allreduce_time_s
from cost_models.inputs import build_inputs
from cost_models.params import load_params

PARAMS = load_params()
RNGD = api.load_hardware("rngd")


def _per_layer_us(tp: float, message_bytes: float) -> float:
    one = np.ones(1)
    rows = build_inputs(api.load_model("llama-3.1-8b"), RNGD, input_len=1, output_len=1, dtype="bf16", kv_dtype="bf16",
                        tp=one * tp, pp=one, dp=one, batch=one, params=PARAMS)
    return float(2 * tp_allreduce_time_s(rows, np.array([message_bytes]), PARAMS)[0] * 1e6)


@pytest.mark.parametrize("point", load_points(), ids=lambda p: f"tp{p.pes}")
def test_intra_card_allreduce_matches_the_measured_time_per_layer(point):
    measured_us = point.time_per_layer_s * 1e6
    assert _per_layer_us(point.pes, point.message_bytes) == pytest.approx(measured_us, rel=0.06)


def test_shipped_constants_are_the_fit_of_the_measured_points():
    fixed_s, pair_s = fit_pairwise(load_points(), link_bytes_per_s=RNGD.intra_device_link.bandwidth_bytes_per_s,
                                   efficiency=PARAMS.comm_bandwidth_efficiency)
    assert PARAMS.per_hardware("intra_allreduce_fixed_s", "rngd") == pytest.approx(fixed_s, rel=1e-5)
    assert PARAMS.per_hardware("intra_allreduce_pair_s", "rngd") == pytest.approx(pair_s, rel=1e-5)


def test_gpus_keep_the_ring():
    assert PARAMS.per_hardware("intra_allreduce_pair_s", "h100-sxm") == 0.0
