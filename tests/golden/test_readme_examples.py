"""The README's worked examples, pinned: a change of the model that moves them is a visible decision.

Each case is checked twice: the tool still answers it (layout exact, figures within 0.5%), and the
README still shows that answer (the figure as printed). Update both together.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from autotune import Workload, recommend

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()

CASES = [
    # (workload, cards, (tp, pp, dp, batch), tok/s, TPOT ms, text the README prints for it)
    (Workload(), 4, (16, 2, 1, 36), 301.8, 119.27, "1  16   2   1     36      4   32     47.9  1,279.5   119.27"),
    (Workload(tpot_ms=100), 4, (16, 2, 1, 23), 230.9, 99.59, "TP 16, PP 2 at batch 23, 230.9 tok/s"),
    (Workload(dtype="fp8"), 2, (8, 2, 1, 27), 240.0, 112.50, "TP 8, PP 2, DP 1, batch 27 on 2: 240.0 tok/s"),
]


@pytest.mark.parametrize("workload,cards,layout,throughput,tpot_ms,text", CASES)
def test_readme_example_still_holds(workload, cards, layout, throughput, tpot_ms, text):
    best = recommend("llama-3.1-70b", "rngd", workload, cards=cards, alternatives=False).recommendations[0]
    plan = best.plan
    assert (plan.tensor_parallel_size, plan.pipeline_parallel_size, plan.data_parallel_size,
            plan.batch_size) == layout
    assert best.metrics["throughput_tokens_per_s"] == pytest.approx(throughput, rel=5e-3)
    assert best.metrics["tpot_ms"] == pytest.approx(tpot_ms, rel=5e-3)
    assert text in README


def test_readme_why_nothing_fits_example():
    result = recommend("llama-3.1-70b", "rngd", Workload(), cards=2)
    assert result.status == "INFEASIBLE"
    assert result.reasons == ("weights need 141.1 GB in bf16; 2 rngd cards hold 96.0 GB",)
    assert result.reasons[0] in README
    kinds = [a.kind for a in result.alternatives]
    assert kinds[:2] == ["cards", "dtype"]
