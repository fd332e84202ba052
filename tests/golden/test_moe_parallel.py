"""MoE parallelism against published choices and the shipped MoE measurements (docs/cost-model.md, section 2)."""
from __future__ import annotations

import numpy as np
import pytest

from autotune.specs.candidates import Candidates
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.workload import Workload
from cost_models.evaluate import evaluate
from cost_models.measurements import read_measurements
from cost_models.params import load_params
from cost_models.validation import validate


def _deepseek_h200(batch: np.ndarray, ep: list[int], adp: list[int]):
    n = len(ep)
    candidates = Candidates(tp=np.full(n, 8), pp=np.ones(n, dtype=np.int64), dp=np.ones(n, dtype=np.int64),
                            batch=np.asarray(batch, dtype=np.int64), cards=8, ep=np.array(ep), adp=np.array(adp))
    return evaluate(load_model("deepseek-ai/DeepSeek-V3"), load_hardware("h200-sxm"),
                    Workload(input_len=1024, output_len=2048, dtype="fp8"), candidates)


def test_deepseek_r1_layouts_rank_as_tensorrt_llm_chose_them():
    # NVIDIA/TensorRT-LLM docs/source/blogs/Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md (at
    # f0c873f5ffdd170c9f5b70c844c02ecca9860b8f), 8 x H200, ISL 1K / OSL 2K: the min-latency recipe (batch 1)
    # runs --tp 8 --ep 4 without attention DP; the max-throughput recipe --tp 8 --ep 8 with
    # enable_attention_dp (1024 sequences in flight).
    latency = _deepseek_h200(np.array([1, 1]), ep=[4, 8], adp=[1, 8])
    assert latency.tpot_s[0] < latency.tpot_s[1]
    fits = _deepseek_h200(np.array([1, 1]), ep=[4, 8], adp=[1, 8]).max_batch
    throughput = _deepseek_h200(np.minimum(fits, 1024), ep=[4, 8], adp=[1, 8])
    assert throughput.throughput_tokens_per_s[1] > 1.5 * throughput.throughput_tokens_per_s[0]
    # Attention DP splits MLA's latent cache by request: the whole 1024-sequence batch fits only with it.
    assert fits[0] < 1024 <= fits[1]


def test_moe_measurements_score_as_documented():
    # docs/cost-model.md "MoE parallelism": builtin:moe, 63 rows, throughput 21.0% / 44.7% (median / p90), shipped
    # parameters, no row in any fit (attention DP + EP priced with the engines' all-gather / reduce-scatter).
    rows, skipped = read_measurements("builtin:moe")
    report = validate(rows, skipped, load_params())
    assert report["rows_used"] == 63 and report["rows_skipped"] == 0
    assert report["throughput"]["median_abs_pct_error"] == pytest.approx(20.98, abs=0.05)
    assert report["throughput"]["p90_abs_pct_error"] == pytest.approx(44.73, abs=0.05)
