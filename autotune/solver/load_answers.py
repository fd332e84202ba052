"""The answers of a search under traffic as typed results: each setting's memory from the cost model at its
batch limit, its latencies, throughput and goodput from the simulator, and why layouts failed."""
from __future__ import annotations

import dataclasses

import numpy as np

from autotune.results import Recommendation, RecommendResult
from autotune.solver.answers import recommendation
from autotune.solver.formulation import FEASIBLE, UNKNOWN
from autotune.solver.request import Request
from autotune.solver.under_load import Load, LoadAnswer, Outcome, goodput_per_s, percentile_ms
from autotune.specs.hardware import counted


def to_recommendation(request: Request, load: Load, outcome: Outcome) -> Recommendation:
    """Returns the Recommendation of one setting: memory from the cost model at that batch (no SLOs), latencies,
    throughput and goodput from the simulator."""
    layout = outcome.layout
    bare = dataclasses.replace(request.workload, batch=outcome.max_num_seqs, ttft_ms=None, tpot_ms=None)
    one = dataclasses.replace(request, tp=layout.tp, pp=layout.pp, dp=layout.dp, ep=layout.ep,
                              adp=layout.adp).problem(bare)
    static = recommendation(one, int(np.flatnonzero(one.feasible)[0]))
    plan = dataclasses.replace(static.plan, max_num_batched_tokens=outcome.max_num_batched_tokens)
    return Recommendation(plan=plan, metrics=serving_metrics(static.metrics, outcome, load))


def rejection_reasons(request: Request, rejected) -> tuple[str, ...]:
    """Returns why each rejected layout has no feasible limit, fewest devices first."""
    shown = sorted(rejected, key=lambda item: (item[0].devices, item[0].key))
    return tuple(f"{lay.label} ({counted(lay.devices, request.hardware.device_name)}): {why}"
                 for lay, why in shown) or ("no layout holds one sequence on the fleet",)


def answers(request: Request, load: Load, answer: LoadAnswer, objective: str) -> RecommendResult:
    """Returns the RecommendResult of a search under load."""
    recs = tuple(to_recommendation(request, load, outcome) for outcome in answer.best)
    return RecommendResult(status=answer.status, objective=objective, recommendations=recs,
                           assumptions=dataclasses.replace(request.assumptions(), load=load_assumptions(load, answer)),
                           reasons=() if recs else rejection_reasons(request, answer.rejected),
                           candidates_total=answer.layouts_total, candidates_feasible=answer.layouts_feasible)


def serving_metrics(static: dict, outcome: Outcome, load: Load) -> dict:
    """Returns the metrics of an answer under load: memory from the cost model; latencies at the SLO
    percentile, throughput and goodput from the simulator; the distributions under `serving`."""
    r, p = outcome.result, load.percentile
    devices = outcome.layout.devices
    good = goodput_per_s(outcome, load)

    def dist(d):
        return None if d is None else d.to_dict()

    out = dict(static)
    out.update({
        "ttft_ms": percentile_ms(r.ttft_ms, p), "tpot_ms": percentile_ms(r.tpot_ms, p),
        "e2e_latency_ms": percentile_ms(r.e2e_latency_ms, p),
        "throughput_tokens_per_s": r.output_tokens_per_s,
        "throughput_tokens_per_s_per_device": r.output_tokens_per_s / devices,
        "requests_per_s": r.requests_per_s,
        "serving": {
            "slo_percentile": p, "max_num_seqs": outcome.max_num_seqs, "peak_running": r.peak_running,
            "ttft_ms": dist(r.ttft_ms), "tpot_ms": dist(r.tpot_ms), "itl_ms": dist(r.itl_ms),
            "e2e_latency_ms": dist(r.e2e_latency_ms), "queueing_ms": dist(r.queueing_ms),
            "goodput_requests_per_s": round(good, 5), "goodput_requests_per_s_per_device": round(good / devices, 5),
            "peak_kv_fraction": round(r.peak_kv_fraction, 4), "preemptions": r.preemptions,
            "max_num_batched_tokens": r.max_num_batched_tokens, "requests_simulated": r.requests,
        },
    })
    return out


def load_assumptions(load: Load, answer: LoadAnswer | None = None, *, layouts_simulated: int = 0,
                     simulations: int = 0) -> dict:
    """Returns what a result under load was simulated with (the `load` entry of the assumptions)."""
    split = {}
    if answer is not None:
        layouts_simulated, simulations = answer.layouts_simulated, answer.simulations
        split = {"layouts_infeasible": len(answer.rejected)}
    return {"traffic": load.text, "rate_per_s": load.rate_per_s, "concurrency": load.concurrency,
            "lengths": load.lengths_text, "slo_percentile": load.percentile, "engine": load.engine.engine,
            "engine_release": load.engine.release, "requests_per_simulation": load.requests, "seed": load.seed,
            "layouts_simulated": layouts_simulated, "simulations": simulations} | split | (
                {} if answer is None or answer.status not in (FEASIBLE, UNKNOWN) else
                {"stopped_by_time_limit": True, "gap": None if answer.gap is None else round(answer.gap, 6)})
