"""Aggregated against disaggregated serving as typed results: `--mode agg|disagg|both` resolved, the two searches
run, their answers merged on one objective scale, and which mode wins and by how much.

JSON of a disaggregated recommendation (beside the keys every recommendation under load has):
- `mode`: "disagg" ("agg" for an aggregated one);
- `prefill`, `decode`: each pool's `tensor_parallel_size`, `pipeline_parallel_size`, `replicas`, `devices`,
  `max_num_seqs`, `busy_fraction`, `peak_kv_fraction` and `replicas_needed` (the capacity coefficient);
- `kv_transfer_ms`: the distribution {p50, p90, p99, mean} of the per-request KV transfer over the measured
  requests (a distribution, not a number: prompt lengths vary with a lengths sample), and `kv_link`, which link;
- the top-level `tensor_parallel_size`, `pipeline_parallel_size`, `data_parallel_size`, `batch_size` are the
  decode pool's (its layout, replicas and max_num_seqs), `cards_used` and `pes_used` the whole deployment's;
  `memory_per_device_bytes` is the decode pool's most loaded device at the run's peak batch.
The result's `modes` object says which mode won (`winner`: "agg", "disagg" or null when neither serves the
rate), each mode's status, devices, value per device on the objective and TPOT at the SLO percentile, and
`ratio` (the winner's value per device / the other's). `plan --rate` adds `modes` (with `mode`) and
`disaggregated` (the deployment, as above, or its `reasons`) beside its aggregated plan, which it keeps.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan
from autotune.results import ParetoResult, Recommendation, RecommendResult
from autotune.solver import disagg_search as ds
from autotune.solver import load_answers, under_load
from autotune.solver.answers import recommendation
from autotune.solver.formulation import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN
from autotune.solver.request import Request


def resolve_mode(mode: str | None, request: Request, load: under_load.Load, objective: str) -> str:
    """Returns the mode to run: `mode` checked (InputError naming --mode and why), or the default: 'both' at a rate
    where the engine runs disaggregation and the objective is one the disaggregated search answers, else 'agg'."""
    if mode is None:
        if load.rate_per_s is None or ds.disagg_unavailable(request, load.engine) is not None \
                or objective not in ds.DISAGG_OBJECTIVES:
            return "agg"
        return "both"
    if mode not in ds.MODES:
        raise InputError(source="--mode", value=mode, expected="one of " + ", ".join(ds.MODES))
    if load.rate_per_s is None:
        raise InputError(source="--mode", value=mode, expected="--rate with it (open loop; disaggregated serving is "
                                                               "simulated under a rate only)")
    if mode != "agg":
        why = ds.disagg_unavailable(request, load.engine)
        if why is not None:
            raise InputError(source="--mode", value=mode, expected=f"agg here: {why}")
        ds.check_objective(objective)
    return mode


def check_mode_needs_rate(mode: str | None, rate: float | None) -> None:
    """Raises InputError when --mode is given without --rate."""
    if mode is not None and rate is None:
        raise InputError(source="--mode", value=mode, expected="--rate with it (open loop; disaggregated serving is "
                                                               "simulated under a rate only)")


def to_recommendation(request: Request, load: under_load.Load, outcome: ds.DisaggOutcome,
                      capacities: tuple[ds.PoolCapacity, ...] = ()) -> Recommendation:
    """Returns the Recommendation of one verified disaggregated deployment (module docstring)."""
    d, r, p = outcome.deployment, outcome.result, load.percentile
    shown = request.model.is_moe  # MoE degrees stated for an MoE model, as the aggregated plans state them
    plan = ParallelPlan(tensor_parallel_size=d.decode.tp, pipeline_parallel_size=d.decode.pp,
                        data_parallel_size=d.decode_replicas, batch_size=r.decode.max_num_seqs,
                        cards_used=d.devices, pes_used=(d.prefill.tp * d.prefill.pp * d.prefill_replicas
                                                        + d.decode.tp * d.decode.pp * d.decode_replicas),
                        expert_parallel_size=d.decode.ep if shown else None,
                        attention_data_parallel_size=d.decode.adp if shown else None)
    static = _decode_memory(request, d.decode, r.peak_running)
    need = {(c.role, *c.layout.shape): c.replicas_needed for c in capacities}
    good = under_load.goodput_per_s(outcome, load)

    def dist(x):
        return None if x is None else x.to_dict()

    def pool(summary, role: str) -> dict[str, Any]:
        moe = ({"expert_parallel_size": summary.expert_parallel_size,
                "attention_data_parallel_size": summary.attention_data_parallel_size} if shown else {})
        return {"role": role, "tensor_parallel_size": summary.tensor_parallel_size,
                "pipeline_parallel_size": summary.pipeline_parallel_size, **moe, "replicas": summary.replicas,
                "devices": summary.devices, "max_num_seqs": summary.max_num_seqs,
                "max_num_batched_tokens": summary.max_num_batched_tokens,
                "busy_fraction": round(summary.busy_fraction, 4),
                "peak_kv_fraction": round(summary.peak_kv_fraction, 4), "preemptions": summary.preemptions,
                "replicas_needed": need.get((role, summary.tensor_parallel_size, summary.pipeline_parallel_size,
                                             summary.expert_parallel_size, summary.attention_data_parallel_size))}

    metrics = dict(static)
    metrics.update({
        "mode": "disagg",
        "ttft_ms": under_load.percentile_ms(r.ttft_ms, p), "tpot_ms": under_load.percentile_ms(r.tpot_ms, p),
        "e2e_latency_ms": under_load.percentile_ms(r.e2e_latency_ms, p),
        "throughput_tokens_per_s": r.output_tokens_per_s,
        "throughput_tokens_per_s_per_device": r.output_tokens_per_s / d.devices,
        "requests_per_s": r.requests_per_s,
        "prefill": pool(r.prefill, "prefill"), "decode": pool(r.decode, "decode"),
        "kv_transfer_ms": dist(r.kv_transfer_ms), "kv_link": r.kv_link,
        "serving": {
            "slo_percentile": p, "max_num_seqs": r.decode.max_num_seqs, "peak_running": r.peak_running,
            "ttft_ms": dist(r.ttft_ms), "tpot_ms": dist(r.tpot_ms), "itl_ms": dist(r.itl_ms),
            "e2e_latency_ms": dist(r.e2e_latency_ms), "queueing_ms": dist(r.queueing_ms),
            "goodput_requests_per_s": round(good, 5), "goodput_requests_per_s_per_device": round(good / d.devices, 5),
            "peak_kv_fraction": round(r.peak_kv_fraction, 4), "preemptions": r.preemptions,
            "max_num_batched_tokens": r.max_num_batched_tokens, "requests_simulated": r.requests,
        },
    })
    return Recommendation(plan=plan, metrics=metrics)


def _decode_memory(request: Request, layout, peak: int) -> dict:
    """Returns the cost model's static metrics of one decode replica at the run's peak batch (batch 1 when the
    peak does not fit the static model's limits), without SLOs: its memory per device."""
    for batch in dict.fromkeys((max(int(peak), 1), 1)):
        bare = dataclasses.replace(request.workload, batch=batch, ttft_ms=None, tpot_ms=None)
        one = dataclasses.replace(request, tp=layout.tp, pp=layout.pp, dp=1, ep=layout.ep,
                                  adp=layout.adp).problem(bare)
        rows = np.flatnonzero(one.feasible)
        if len(rows):
            return dict(recommendation(one, int(rows[0])).metrics)
    bare = dataclasses.replace(request.workload, batch=1, ttft_ms=None, tpot_ms=None)
    one = dataclasses.replace(request, tp=layout.tp, pp=layout.pp, dp=1, ep=layout.ep, adp=layout.adp).problem(bare)
    return dict(recommendation(one, 0).metrics)


def _tpot(outcome) -> float:
    """Returns an outcome's TPOT at the SLO percentile (0 when no request has a second token)."""
    return 0.0 if math.isnan(outcome.tpot_ms) else float(outcome.tpot_ms)


def _with_mode(rec: Recommendation) -> Recommendation:
    return dataclasses.replace(rec, metrics={**rec.metrics, "mode": "agg"})


def _mode_summary(status: str, key: tuple[float, ...] | None, objective: str, word: str) -> dict[str, Any]:
    out: dict[str, Any] = {"status": status, "devices": None, "value_per_device": None, "tpot_ms": None}
    if key is not None:
        out["devices"] = int(key[1])
        out["value_per_device"] = round(-key[0], 6)
        out["tpot_ms"] = round(key[2], 4)
    # Both modes are searched at a rate, which every feasible deployment serves: the throughput compared is
    # the rate's output tokens over the devices (the table's tok/s is the simulation's measured window).
    out["value"] = ("goodput requests/s" if objective == "goodput" else "output tokens/s") + f" per {word}" \
        + ("" if objective == "goodput" else " at the offered rate")
    return out


def comparison(objective: str, word: str, agg: tuple[str, tuple | None] | None,
               disagg: tuple[str, tuple | None] | None) -> dict[str, Any]:
    """Returns the `modes` object: each mode's status, devices, value per device and TPOT percentile, the winner
    and the ratio of the values per device. Keys are (-value per device, devices, TPOT at the SLO percentile):
    the objective's value first, then fewer devices, then the lower TPOT; a full tie goes to aggregated."""
    out: dict[str, Any] = {"objective": objective}
    keys = {}
    for name, entry in (("agg", agg), ("disagg", disagg)):
        if entry is None:
            out[name] = None
            continue
        out[name] = _mode_summary(entry[0], entry[1], objective, word)
        if entry[1] is not None:
            keys[name] = entry[1]
    winner, ratio = None, None
    if keys:
        winner = min(keys, key=lambda n: (*keys[n][:3], n != "agg"))  # full ties: aggregated (one pool)
        other = "disagg" if winner == "agg" else "agg"
        if other in keys and keys[other][0] != 0:
            ratio = round(keys[winner][0] / keys[other][0], 4)
    out["winner"], out["ratio"] = winner, ratio
    return out


def recommend_modes(request: Request, load: under_load.Load, objective: str, *, mode: str, top: int = 1,
                    time_limit_s: float | None = None) -> RecommendResult:
    """Returns recommend under a rate in `mode` ('agg', 'disagg' or 'both'): the best answers of the modes run,
    merged on the objective's key (ties: aggregated first), with the `modes` comparison."""
    word = request.hardware.device_name
    agg_result, agg_entry, agg_keys = None, None, []
    if mode in ("agg", "both"):
        answer = under_load.search(request, load, objective, top=top, time_limit_s=time_limit_s)
        agg_result = load_answers.answers(request, load, answer, objective)
        agg_keys = [under_load.objective_key(o, objective, load)[:2] + (_tpot(o),) for o in answer.best]
        agg_entry = (answer.status, agg_keys[0] if agg_keys else None)
    if mode == "agg":
        return dataclasses.replace(agg_result, recommendations=tuple(_with_mode(r) for r in agg_result.recommendations),
                                   assumptions=dataclasses.replace(agg_result.assumptions,
                                                                   load={**agg_result.assumptions.load, "mode": mode}))
    d_answer = ds.search(request, load, objective, top=top, time_limit_s=time_limit_s)
    d_keys = [ds.disagg_key(o, objective, load)[:2] + (_tpot(o),) for o in d_answer.best]
    d_recs = [to_recommendation(request, load, o, d_answer.capacities) for o in d_answer.best]
    disagg_entry = (d_answer.status, d_keys[0] if d_keys else None)
    modes = comparison(objective, word, agg_entry, disagg_entry)
    merged = [(k, 0, i, _with_mode(r)) for i, (k, r) in enumerate(zip(agg_keys, agg_result.recommendations))] \
        if agg_result is not None else []
    merged += [(k, 1, i, r) for i, (k, r) in enumerate(zip(d_keys, d_recs))]
    merged.sort(key=lambda item: item[:3])
    recs = tuple(item[3] for item in merged[:top])
    disagg_load = {"status": d_answer.status, "cp_sat_solves": d_answer.solves,
                   "deployments_verified": len(d_answer.verified),
                   "deployments_feasible": sum(o.failure is None for o in d_answer.verified),
                   "pool_layouts_priced": len(d_answer.capacities), "simulations": d_answer.simulations,
                   "coefficients": [{"role": c.role, "tensor_parallel_size": c.layout.tp,
                                     "pipeline_parallel_size": c.layout.pp, "expert_parallel_size": c.layout.ep,
                                     "attention_data_parallel_size": c.layout.adp,
                                     "devices": c.layout.devices_per_group,
                                     "replicas_needed": c.replicas_needed, "rate_per_replica": round(c.rate_per_s, 6),
                                     "reason": c.reason} for c in d_answer.capacities],
                   "notes": list(d_answer.notes)}
    if agg_result is not None:
        base = agg_result
        assumptions = dataclasses.replace(base.assumptions, load={**base.assumptions.load, "mode": mode,
                                                                  "disaggregated": disagg_load})
    else:
        base = None
        assumptions = dataclasses.replace(request.assumptions(), load={
            **load_answers.load_assumptions(load, layouts_simulated=len(d_answer.capacities),
                                            simulations=d_answer.simulations),
            "mode": mode, "disaggregated": disagg_load})
    statuses = [entry[0] for entry in (agg_entry, disagg_entry) if entry is not None]
    proven = all(st in (OPTIMAL, INFEASIBLE) for st in statuses)  # else a time limit or the verification cap
    if recs:
        status = OPTIMAL if proven else FEASIBLE
    else:
        status = INFEASIBLE if proven else UNKNOWN
    reasons = ()
    if not recs:
        reasons = (tuple(f"aggregated: {r}" for r in base.reasons) if base is not None else ()) + tuple(
            f"disaggregated: {r}" for r in d_answer.reasons)
    return RecommendResult(status=status, objective=objective, recommendations=recs, assumptions=assumptions,
                           reasons=reasons,
                           candidates_total=(base.candidates_total if base else 0) + len(d_answer.verified),
                           candidates_feasible=(base.candidates_feasible if base else 0)
                           + sum(o.failure is None for o in d_answer.verified),
                           modes=modes)


def plan_modes(result, *, mode: str | None, setting, space, workload, lengths_text: str):
    """Returns `plan --rate`'s result with the disaggregated deployment of the fewest devices and the `modes`
    comparison (unchanged for mode 'agg').

    The disaggregated deployments are searched on up to twice the aggregated plan's devices (one machine's
    worth twice when the aggregated plan has none), within --max-cards: whether disaggregation serves the rate
    on fewer devices, and how many it needs when it does not.
    """
    from autotune.solver.request import resolve

    a = result.assumptions
    rec = result.recommendations[0] if result.recommendations else None
    budget = min(a.max_cards, 2 * (rec.cards_used if rec is not None else a.devices_per_node))
    request = resolve(setting.model, setting.hardware, dataclasses.replace(workload, batch="auto"), cards=budget,
                      space=space, params=setting.params)
    load = under_load.Load(rate_per_s=result.rate, lengths=setting.lengths, lengths_text=lengths_text,
                           percentile=setting.percentile, requests=setting.requests, seed=setting.seed,
                           engine=setting.engine)
    chosen = resolve_mode(mode, request, load, "throughput")
    if chosen == "agg":
        return result
    answer = ds.search(request, load, "throughput", budget=budget)
    word = a.device_name
    out_len = setting.lengths.means()[1]
    agg_key = None if rec is None else (-result.rate * out_len / rec.cards_used, float(rec.cards_used),
                                        under_load.percentile_ms(rec.check.result.tpot_ms, setting.percentile))
    d_key = ds.disagg_key(answer.best[0], "throughput", load)[:2] + (_tpot(answer.best[0]),) if answer.best else None
    modes = comparison("throughput", word, (result.status, agg_key), (answer.status, d_key)) | {"mode": chosen}
    if answer.best:
        entry = to_recommendation(request, load, answer.best[0], answer.capacities).to_dict()
    else:
        entry = {"reasons": list(answer.reasons)}
    entry = {"status": answer.status, "fleet_searched": budget, "notes": list(answer.notes)} | entry
    return dataclasses.replace(result, modes=modes, disaggregated=entry)


#: Disaggregated deployments a Pareto front under a rate takes as candidate points: the search's best by
#: devices, then TPOT (a front at a rate trades devices against TPOT; not every deployment is simulated).
FRONT_DISAGG_POINTS = 6


def front_modes(request: Request, load: under_load.Load, *, axes: str, mode: str) -> ParetoResult:
    """Returns the Pareto front under a rate over the modes run: the aggregated front's settings and the
    disaggregated search's FRONT_DISAGG_POINTS best deployments, non-dominated on (TPOT at the SLO percentile,
    output tokens/s, per device for the 'user-card' axes); lowest TPOT first."""
    from autotune.solver.pareto_front import AXES

    per_device = axes == "user-card"
    served = load.rate_per_s * load.lengths.means()[1]
    candidates = []  # (tpot, -throughput, devices, mode order, recommendation)
    rejected: tuple = ()
    layouts = 0
    sims = 0
    if mode == "both":
        evaluator = under_load.Evaluator(request, load)
        points, rejected = under_load.front(request, load, per_device=per_device, evaluator=evaluator)
        layouts, sims = len(under_load.layouts_of(request)), len(evaluator.cache)
        for o in points:
            tpot = o.tpot_ms if not np.isnan(o.tpot_ms) else 0.0
            thr = served / (o.layout.devices if per_device else 1)
            candidates.append((tpot, -thr, o.layout.devices, 0, _with_mode(load_answers.to_recommendation(
                request, load, o))))
    answer = ds.search(request, load, "throughput", top=FRONT_DISAGG_POINTS)
    for o in answer.best:
        tpot = o.tpot_ms if not np.isnan(o.tpot_ms) else 0.0
        thr = served / (o.deployment.devices if per_device else 1)
        candidates.append((tpot, -thr, o.deployment.devices, 1, to_recommendation(request, load, o,
                                                                                  answer.capacities)))
    candidates.sort(key=lambda c: c[:4])
    kept = []
    for c in candidates:
        if not kept or -c[1] > -kept[-1][1]:
            kept.append(c)
    load_info = {**load_answers.load_assumptions(load, layouts_simulated=layouts, simulations=sims + answer.simulations),
                 "mode": mode, "disaggregated": {"status": answer.status, "deployments_verified": len(answer.verified),
                                                 "points": len(answer.best), "notes": list(answer.notes)}}
    reasons = ()
    if not kept:
        reasons = (load_answers.rejection_reasons(request, rejected) if mode == "both" else ()) + tuple(
            f"disaggregated: {r}" for r in answer.reasons)
    return ParetoResult(status=OPTIMAL if kept else INFEASIBLE, axes=AXES[axes], points=tuple(c[4] for c in kept),
                        assumptions=dataclasses.replace(request.assumptions(), load=load_info), reasons=reasons)


__all__ = ["check_mode_needs_rate", "comparison", "front_modes", "plan_modes", "recommend_modes", "resolve_mode",
           "to_recommendation"]
