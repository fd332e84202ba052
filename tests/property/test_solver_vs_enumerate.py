"""Property tests: the CP-SAT solver agrees with brute force on random models, hardware, spaces and SLOs.

The brute force is `enumerate --batches every`: every layout at every integer batch from 1 to one
past what memory and the runtime allow, SLOs not used to bound it. The solver sees only each
layout's bisected batches (`autotune.solver.batches`), so these tests are what proves that walk exact.

- The solver's optimum is the first feasible row of the brute force (same tie-breaks), its
  runner-up the best row of another layout, and its objective value the best over every row.
- No recommendation breaks a limit: memory per device, the SLOs, every rule of the space.
- The Pareto set is exactly the non-dominated subset of `enumerate`'s feasible rows.

Each property runs on random dense instances and on small mixture-of-experts instances (Qwen3-30B-A3B,
DeepSeek-V2-Lite and Mixtral with perturbed depth, on 2 to 4 GPUs), whose layouts add expert-parallel and
attention data-parallel degrees: a layout is then (TP, PP, DP, EP, ADP).
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autotune import api
from autotune.solver.formulation import THROUGHPUT_SCALE, TIME_SCALE_PER_S
from autotune.solver.rules import check_rules
from autotune.specs.hardware_loader import list_hardware_presets
from autotune.specs.space import list_spaces, load_space

PRESETS_DIR = Path(api.__file__).resolve().parent / "presets" / "models"
BASE_MODELS = ("llama-3.1-8b", "qwen2.5-7b", "mistral-7b-v0.1", "llama-3.2-1b", "llama-3.1-70b", "qwen3-32b")
HARDWARE = tuple(h for h in ("rngd", "h100-sxm", "a100-sxm-80g", "l40s", "mi300x") if h in list_hardware_presets())
MOE_MODELS = ("qwen3-30b-a3b", "deepseek-v2-lite", "mixtral-8x7b-v0.1")
MOE_HARDWARE = tuple(h for h in ("h100-sxm", "a100-sxm-80g", "mi300x") if h in list_hardware_presets())
_MODEL_DIR = Path(tempfile.mkdtemp(prefix="autotune-property-models-"))
_SPECS: dict = {}


def _spec(config: dict):
    key = json.dumps(config, sort_keys=True)
    if key not in _SPECS:
        path = _MODEL_DIR / f"m{len(_SPECS)}.json"
        path.write_text(key)
        _SPECS[key] = api.load_model(str(path))
    return _SPECS[key]


@st.composite
def moe_models(draw):
    """Returns a mixture-of-experts ModelSpec: a real MoE preset with its depth perturbed (experts kept)."""
    config = json.loads((PRESETS_DIR / f"{draw(st.sampled_from(MOE_MODELS))}.json").read_text())
    config.update(num_hidden_layers=draw(st.integers(8, 48)))
    return _spec(config)


@st.composite
def moe_requests(draw):
    """Returns a small MoE request on GPUs under the gpu space (EP and attention DP 1 or all of TP)."""
    space = load_space("gpu")
    dtype = draw(st.sampled_from(["bf16", "fp8"]))
    workload = api.Workload(
        input_len=draw(st.sampled_from([1024, 4096])), output_len=draw(st.sampled_from([64, 512])),
        batch=draw(st.one_of(st.just("auto"), st.sampled_from([1, 4, 32]))),
        ttft_ms=draw(st.one_of(st.none(), st.floats(20, 5000))), tpot_ms=draw(st.one_of(st.none(), st.floats(3, 300))),
        dtype=dtype, kv_dtype=dtype)
    return dict(model=draw(moe_models()), hardware=api.load_hardware(draw(st.sampled_from(MOE_HARDWARE))),
                space=space, workload=workload, cards=draw(st.integers(2, 4)))


def layout_of(plan) -> tuple[int, int, int, int, int]:
    """Returns the layout of a plan: (TP, PP, DP, EP, ADP)."""
    return (plan.tensor_parallel_size, plan.pipeline_parallel_size, plan.data_parallel_size, plan.ep, plan.adp)


@st.composite
def models(draw):
    """Returns a ModelSpec: a real preset's config.json with layers, heads and widths perturbed."""
    base = draw(st.sampled_from(BASE_MODELS))
    config = json.loads((PRESETS_DIR / f"{base}.json").read_text())
    heads = draw(st.sampled_from([16, 32, 64]))
    kv_heads = draw(st.sampled_from([h for h in (2, 4, 8, 16) if heads % h == 0]))
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    hidden = heads * head_dim
    # Small instances: at least 16 layers and 2 KV heads keep every-batch listings to ~10^5 rows.
    config.update(num_hidden_layers=draw(st.integers(16, 96)), num_attention_heads=heads,
                  num_key_value_heads=kv_heads, hidden_size=hidden,
                  intermediate_size=int(hidden * draw(st.sampled_from([2.0, 2.6875, 3.5, 4.0]))))
    if "head_dim" in config:
        config["head_dim"] = head_dim
    return _spec(config)


@st.composite
def requests(draw):
    hardware = api.load_hardware(draw(st.sampled_from(HARDWARE)))
    unit = "pe" if hardware.compute_units_per_device > 1 else "device"
    spaces = [s for s in list_spaces() if load_space(s).tp_unit == unit]
    space = load_space(draw(st.sampled_from(spaces)))
    dtype = draw(st.sampled_from([d for d in ("bf16", "fp8", "int4") if d in space.dtypes] or [space.dtypes[0]]))
    workload = api.Workload(
        input_len=draw(st.sampled_from([1024, 4096])), output_len=draw(st.sampled_from([64, 512])),
        batch=draw(st.one_of(st.just("auto"), st.sampled_from([1, 4, 32]))),
        ttft_ms=draw(st.one_of(st.none(), st.floats(20, 5000))), tpot_ms=draw(st.one_of(st.none(), st.floats(3, 300))),
        dtype=dtype, kv_dtype=dtype if dtype in space.kv_dtypes else None)
    if workload.cache_dtype not in space.kv_dtypes:
        workload = api.Workload(**{**workload.__dict__, "kv_dtype": space.kv_dtypes[0]})
    return dict(model=draw(models()), hardware=hardware, space=space, workload=workload,
                # Small instances: every-batch listings of up to ~10^5 rows (RNGD counts 8 PEs a card).
                cards=draw(st.integers(1, 4 if hardware.compute_units_per_device > 1 else 8)))


PROPERTY_SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _key(metrics: dict, objective: str) -> tuple:
    thr = round(metrics["throughput_tokens_per_s"] * THROUGHPUT_SCALE)
    us = lambda ms: round(ms * TIME_SCALE_PER_S / 1e3)  # noqa: E731
    return {"throughput": (-thr,), "latency": (us(metrics["tpot_ms"]),), "ttft": (us(metrics["ttft_ms"]),),
            "e2e": (us(metrics["e2e_latency_ms"]),)}[objective]


MOE_SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: The Pareto check lists every integer batch of every MoE layout (about 10 s an example): fewer examples keep CI short.
MOE_PARETO_SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(request=requests(), objective=st.sampled_from(["throughput", "latency", "ttft", "e2e"]))
def test_solver_optimum_is_the_best_feasible_row_of_enumerate(request, objective):
    check_optimum(request, objective)


@MOE_SETTINGS
@given(request=moe_requests(), objective=st.sampled_from(["throughput", "latency", "ttft", "e2e"]))
def test_solver_optimum_is_the_best_feasible_row_of_enumerate_with_moe_degrees(request, objective):
    check_optimum(request, objective)


def check_optimum(request, objective):
    result = api.recommend(request["model"], request["hardware"], request["workload"], cards=request["cards"],
                           space=request["space"], objective=objective, top=2, alternatives=False)
    listing = api.enumerate_candidates(request["model"], request["hardware"], request["workload"],
                                       cards=request["cards"], space=request["space"], objective=objective,
                                       batches="every")
    feasible = [c for c in listing.candidates if c.metrics["feasible"]]
    best_per_layout = {}
    for c in feasible:
        best_per_layout.setdefault(layout_of(c.plan), c)
    event("feasible" if feasible else "infeasible")
    if not feasible:
        assert result.status == "INFEASIBLE" and not result.recommendations and result.reasons
        return
    assert result.status == "OPTIMAL"
    assert [r.plan for r in result.recommendations] == [c.plan for c in list(best_per_layout.values())[:2]]
    best_value = min(_key(c.metrics, objective) for c in feasible)
    assert _key(result.recommendations[0].metrics, objective) == best_value


@PROPERTY_SETTINGS
@given(request=requests(), objective=st.sampled_from(["throughput", "latency"]))
def test_no_recommendation_breaks_a_limit(request, objective):
    check_limits(request, objective)


@MOE_SETTINGS
@given(request=moe_requests(), objective=st.sampled_from(["throughput", "latency"]))
def test_no_recommendation_breaks_a_limit_with_moe_degrees(request, objective):
    check_limits(request, objective)


def check_limits(request, objective):
    result = api.recommend(request["model"], request["hardware"], request["workload"], cards=request["cards"],
                           space=request["space"], objective=objective, top=3, alternatives=False)
    workload = request["workload"]
    for rec in result.recommendations:
        m, p = rec.metrics, rec.plan
        assert m["memory_per_device_bytes"]["total"] <= m["memory_per_device_bytes"]["capacity"]
        assert workload.ttft_ms is None or m["ttft_ms"] <= workload.ttft_ms
        assert workload.tpot_ms is None or m["tpot_ms"] <= workload.tpot_ms
        assert workload.batch == "auto" or p.batch_size == workload.batch
        rules = check_rules(request["space"], request["hardware"], request["model"], request["cards"],
                            np.array([p.tensor_parallel_size]), np.array([p.pipeline_parallel_size]),
                            np.array([p.data_parallel_size]), ep=np.array([p.ep]), adp=np.array([p.adp]))
        assert [r.rule_id for r in rules if r.violated[0]] == []
        assert p.cards_used <= request["cards"]


@PROPERTY_SETTINGS
@given(request=requests(), axes=st.sampled_from(["tpot-throughput", "user-card"]))
def test_pareto_set_is_the_non_dominated_subset_of_enumerate(request, axes):
    check_pareto(request, axes)


@MOE_PARETO_SETTINGS
@given(request=moe_requests(), axes=st.sampled_from(["tpot-throughput", "user-card"]))
def test_pareto_set_is_the_non_dominated_subset_of_enumerate_with_moe_degrees(request, axes):
    check_pareto(request, axes)


def check_pareto(request, axes):
    front = api.pareto(request["model"], request["hardware"], request["workload"], cards=request["cards"],
                       space=request["space"], axes=axes)
    listing = api.enumerate_candidates(request["model"], request["hardware"], request["workload"],
                                       cards=request["cards"], space=request["space"], batches="every")
    field = "throughput_tokens_per_s" if axes == "tpot-throughput" else "throughput_tokens_per_s_per_device"

    def point(metrics):
        return round(metrics["tpot_ms"] * 1e3), round(metrics[field] * THROUGHPUT_SCALE)

    feasible = {point(c.metrics) for c in listing.candidates if c.metrics["feasible"]}
    expected = {(lat, thr) for lat, thr in feasible
                if not any(l2 <= lat and t2 >= thr and (l2, t2) != (lat, thr) for l2, t2 in feasible)}
    event(f"front of {min(len(expected), 5)}{'+' if len(expected) >= 5 else ''} points")
    assert {point(p.metrics) for p in front.points} == expected
    assert len(front.points) == len(expected)
    assert front.status == ("OPTIMAL" if expected else "INFEASIBLE")
