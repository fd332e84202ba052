"""`simulate_layout`: one configuration (layout, engine, traffic) simulated into a ServingResult.

Data parallel replicas share the traffic evenly: a closed loop's clients are dealt to replicas
(some get one more when they do not divide), an open loop's rate is divided by DP (each replica
sees rate / DP, Poisson stays Poisson under an even random split), a trace is dealt round-robin.
Each distinct share is simulated once and weighted by the replicas that get it. A closed loop's
clients all send their first request at once, as benchmark tools start them; with equal lengths on
an engine without jitter the rounds then stay in step (measured GPU runs show it: TTFT grows with
the clients as whole rounds of prompts queue). `stagger_clients` starts them spread over one request's
latency instead (the desynchronised steady state).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from autotune.errors import InfeasibleError, InputError
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from cost_models.params import CostParams
from cost_models.serving.engines import EngineProfile
from cost_models.serving.metrics import (Distribution, ReplicaSummary, ServingResult, distribution_ms, meets_slo,
                                         summarize_replica)
from cost_models.serving.pricing import StepPricer, build_pricer, kv_capacity_pairs
from cost_models.serving.scheduler import EngineLimits, simulate_replica
from cost_models.serving.steady import closed_loop_steady_state
from cost_models.serving.traffic import Traffic, open_arrivals_s


def engine_limits(engine: EngineProfile, params: CostParams, *, max_num_seqs: int | None,
                  max_num_batched_tokens: int | None, adp: int = 1) -> tuple[int, int]:
    """Returns a replica's (max sequences, token budget) per step: the overrides (the replica's), else the profile's
    defaults (times `adp` where the engine's limits are per attention-DP rank: each rank schedules with them,
    `EngineProfile.limits_per_attention_dp_rank`), else the cost model's cap."""
    ranks = adp if engine.limits_per_attention_dp_rank else 1
    seqs = max_num_seqs or (engine.max_num_seqs and engine.max_num_seqs * ranks) or int(params.max_batch_per_replica)
    if engine.buckets is not None:
        seqs = min(seqs, engine.buckets.decode_batch_sizes[-1])
    tokens = max_num_batched_tokens or engine.max_num_batched_tokens * ranks
    return int(seqs), int(tokens)


def prepare_replica(model: ModelSpec, hardware: HardwareSpec, *, dtype: str, kv_dtype: str, tp: int, pp: int,
                    engine: EngineProfile, params: CostParams, max_num_seqs: int | None = None,
                    max_num_batched_tokens: int | None = None,
                    activation_tokens: int | None = None, ep: int = 1, adp: int = 1,
                    adp_balanced: bool = False) -> tuple[StepPricer, EngineLimits]:
    """Returns the step pricer and scheduler limits of one replica layout under an engine profile.

    `ep`, `adp` (1: plain TP): the replica's expert-parallel and attention data-parallel degrees, both
    dividing `tp`; the adp groups each hold the KV of their own requests, so the replica's KV capacity is
    their sum (`memory.kv_bytes_per_sequence`). `adp_balanced`: the engine balances its attention DP ranks.
    """
    check_moe_degrees(model, tp=tp, ep=ep, adp=adp)
    if engine.buckets is not None:  # the model's artifacts may pad prefill chunks to their own ladder
        engine = replace(engine, buckets=engine.buckets.for_model(model.model_type))
    seqs, tokens = engine_limits(engine, params, max_num_seqs=max_num_seqs,
                                 max_num_batched_tokens=max_num_batched_tokens, adp=adp)
    step_tokens = tokens + seqs
    if engine.buckets is not None:
        step_tokens = max(engine.buckets.padded_chunk(tokens), engine.buckets.decode_batch_sizes[-1])
    pricer, rows = build_pricer(model, hardware, dtype=dtype, kv_dtype=kv_dtype, tp=tp, pp=pp, params=params,
                                max_tokens=step_tokens, activation_tokens=activation_tokens, ep=ep, adp=adp,
                                adp_balanced=adp_balanced)
    limits = EngineLimits(max_num_seqs=seqs, max_num_batched_tokens=tokens, chunked_prefill=engine.chunked_prefill,
                          mixed_batches=engine.mixed_batches, reserve_full=engine.kv_allocation == "reserve_full",
                          kv_capacity_pairs=float(kv_capacity_pairs(rows, params, pricer)), buckets=engine.buckets,
                          prefills_between_decodes=engine.prefills_between_decodes)
    return pricer, limits


def check_moe_degrees(model: ModelSpec, *, tp: int, ep: int, adp: int, pool: str = "") -> None:
    """Raises InputError when `ep` or `adp` is below 1 or does not divide `tp`, or `ep` > 1 for a dense model
    (`pool`: 'prefill' or 'decode' names a disaggregated pool's flags, --prefill-ep ...)."""
    flag = f"--{pool}-" if pool else "--"
    for name, value in (("ep", ep), ("adp", adp)):
        if int(value) != value or value < 1 or tp % int(value):
            raise InputError(source=f"{flag}{name}", value=value, expected=f"a positive integer that divides tp ({tp})")
    if ep > 1 and not model.num_experts:
        raise InputError(source=f"{flag}ep", value=ep, expected="1 for a model without routed experts")


def _shares(traffic: Traffic, dp: int) -> list[tuple[int, dict]]:
    """Returns (replicas, per-replica traffic arguments) for each distinct share of the traffic."""
    if traffic.closed:
        base, extra = divmod(int(traffic.concurrency), dp)
        shares = []
        for clients, replicas in ((base + 1, extra), (base, dp - extra)):
            if clients >= 1 and replicas >= 1:
                requests = max(math.ceil(traffic.requests * clients / traffic.concurrency), 3 * clients)
                shares.append((replicas, {"concurrency": clients, "requests": requests}))
        return shares
    if traffic.arrival == "trace":
        return [(1, {"replica": r}) for r in range(dp)]
    return [(dp, {"rate": traffic.rate_per_s / dp, "requests": max(math.ceil(traffic.requests / dp), 1)})]


def closed_loop_spread_s(pricer: StepPricer, limits: EngineLimits, clients: int, inputs: np.ndarray,
                         outputs: np.ndarray) -> float:
    """Returns one request's latency in the closed-form steady state: a spread that starts clients out of step."""
    steady = closed_loop_steady_state(pricer, limits, concurrency=clients, input_len=int(inputs.mean()),
                                      output_len=max(int(outputs.mean()), 1))
    return steady.ttft_s + float(outputs.mean()) * steady.tpot_s


def _run_share(pricer: StepPricer, limits: EngineLimits, traffic: Traffic, dp: int, share: dict,
               stagger: bool = False):
    rng = np.random.default_rng(traffic.seed)
    if traffic.closed:
        n = share["requests"]
        inputs, outputs = traffic.lengths.sample(n, rng)
        clients = share["concurrency"]
        return simulate_replica(pricer, limits, input_len=inputs, output_len=outputs, concurrency=clients,
                                start_spread_s=closed_loop_spread_s(pricer, limits, clients, inputs, outputs)
                                if stagger else 0.0), clients
    if traffic.arrival == "trace":
        n = min(traffic.requests, len(traffic.trace_s))
        index = np.arange(share["replica"], n, dp)
        times = np.asarray(traffic.trace_s, dtype=np.float64)[index]
        inputs = np.asarray(traffic.lengths.input_len)[index]
        outputs = np.asarray(traffic.lengths.output_len)[index]
        return simulate_replica(pricer, limits, input_len=inputs, output_len=outputs,
                                arrival_s=times - float(traffic.trace_s[0])), None
    n = share["requests"]
    inputs, outputs = traffic.lengths.sample(n, rng)
    per_replica = Traffic(requests=n, lengths=traffic.lengths, rate_per_s=share["rate"], arrival=traffic.arrival,
                          cv=traffic.cv, seed=traffic.seed)
    return simulate_replica(pricer, limits, input_len=inputs, output_len=outputs,
                            arrival_s=open_arrivals_s(per_replica, rng)), None


def simulate_layout(model: ModelSpec, hardware: HardwareSpec, *, dtype: str, kv_dtype: str, tp: int, pp: int,
                    dp: int, engine: EngineProfile, traffic: Traffic, params: CostParams,
                    ttft_slo_ms: float | None = None, tpot_slo_ms: float | None = None,
                    max_num_seqs: int | None = None, max_num_batched_tokens: int | None = None,
                    activation_tokens: int | None = None, stagger_clients: bool = False,
                    measure: str = "steady", ep: int = 1, adp: int = 1,
                    adp_balanced: bool = False) -> ServingResult:
    """Returns what clients see when `dp` replicas of (tp, pp) serve `traffic` with `engine`'s scheduler.

    `ep`, `adp` (1: plain TP): each replica's expert-parallel and attention data-parallel degrees
    (docs/cost-model.md, "MoE parallelism"); `adp_balanced`: the engine balances its attention DP ranks.
    """
    pricer, limits = prepare_replica(model, hardware, dtype=dtype, kv_dtype=kv_dtype, tp=tp, pp=pp, engine=engine,
                                     params=params, max_num_seqs=max_num_seqs,
                                     max_num_batched_tokens=max_num_batched_tokens,
                                     activation_tokens=activation_tokens, ep=ep, adp=adp, adp_balanced=adp_balanced)
    longest = max(i + o for i, o in zip(traffic.lengths.input_len, traffic.lengths.output_len))
    check_fits(pricer, limits, engine, longest)
    summaries: list[tuple[int, ReplicaSummary]] = []
    peak, preemptions, steps, simulated, running = 0.0, 0, 0, 0.0, 0
    for replicas, share in _shares(traffic, dp):
        traj, concurrency = _run_share(pricer, limits, traffic, dp, share, stagger_clients)
        summaries.append((replicas, summarize_replica(traj, concurrency=concurrency, measure=measure)))
        peak = max(peak, traj.peak_kv_pairs)
        preemptions += replicas * traj.preemptions
        steps = max(steps, traj.steps)
        simulated = max(simulated, float(np.nanmax(traj.finish_s)))
        running = max(running, peak_in_flight(traj.scheduled_s, traj.finish_s))
    result = _combine(summaries, engine=engine, limits=limits, traffic=traffic, dp=dp, peak_kv_pairs=peak,
                      pricer=pricer, preemptions=preemptions, steps=steps, simulated_s=simulated,
                      ttft_slo_ms=ttft_slo_ms, tpot_slo_ms=tpot_slo_ms)
    notes = result.notes
    if ep > 1 or adp > 1:
        notes += (f"each replica: expert parallel {ep}, attention data parallel {adp} over its TP {tp} "
                  f"(each step waits for its busiest attention group and EP group)",)
    if adp > 1 and engine.limits_per_attention_dp_rank:
        notes += (f"the replica's max_num_seqs {limits.max_num_seqs} and max_num_batched_tokens "
                  f"{limits.max_num_batched_tokens} are {engine.engine}'s flags {limits.max_num_seqs // adp} and "
                  f"{limits.max_num_batched_tokens // adp}, per attention-DP rank",)
    return replace(result, peak_running=running, notes=notes)


def check_fits(pricer: StepPricer, limits: EngineLimits, engine: EngineProfile, longest: int, *,
               decodes: bool = True, what: str = "one replica") -> None:
    """Raises InfeasibleError when a request of `longest` tokens (prompt + output) cannot fit `what`'s KV cache.

    `decodes` False (a prefill-only replica): no decode bucket is needed.
    """
    if pricer.attention.pairs(longest) > limits.kv_capacity_pairs:
        tokens = limits.kv_capacity_pairs / max(pricer.attention.full_layers + pricer.attention.window_layers, 1)
        raise InfeasibleError(f"the KV cache of {what} holds about {tokens:.0f} tokens; a request of "
                              f"{longest} tokens (prompt + output) does not fit",
                              reasons=("kv_cache",))
    if decodes and engine.buckets is not None and longest > max(engine.buckets.decode_max_attention):
        raise InfeasibleError(f"{engine.display_name} {engine.release} compiles attention up to "
                              f"{max(engine.buckets.decode_max_attention)} tokens; a request of {longest} tokens "
                              f"(prompt + output) has no decode bucket", reasons=("buckets",))


def traffic_text(traffic: Traffic) -> str:
    """Returns the traffic in words, as results describe it."""
    return (f"closed loop, {traffic.concurrency} clients" if traffic.closed else
            f"trace ({len(traffic.trace_s)} requests)" if traffic.arrival == "trace" else
            f"{traffic.arrival} arrivals at {traffic.rate_per_s:g} requests/s"
            + (f", cv {traffic.cv:g}" if traffic.arrival == "gamma" else ""))


def peak_in_flight(start_s: np.ndarray, finish_s: np.ndarray) -> int:
    """Returns the most intervals [start, finish) open at once (a finish at t closes before a start at t opens)."""
    start = np.asarray(start_s, dtype=np.float64)
    finish = np.asarray(finish_s, dtype=np.float64)
    started = start[np.isfinite(start)]
    if len(started) == 0:
        return 0
    times = np.concatenate([finish[np.isfinite(start)], started])
    # Sort by time, closings (-1) before openings (+1) at equal times.
    delta = np.concatenate([-np.ones(len(started), dtype=np.int64), np.ones(len(started), dtype=np.int64)])
    order = np.lexsort((delta, times))
    return int(np.cumsum(delta[order]).max())


def _weighted(summaries: list[tuple[int, ReplicaSummary]], name: str) -> tuple[np.ndarray, np.ndarray]:
    values = np.concatenate([getattr(s, name) for _, s in summaries])
    weights = np.concatenate([np.full(len(getattr(s, name)), float(r)) for r, s in summaries])
    return values, weights


def _combine(summaries: list[tuple[int, ReplicaSummary]], *, engine: EngineProfile, limits: EngineLimits,
             traffic: Traffic, dp: int, peak_kv_pairs: float, pricer: StepPricer, preemptions: int, steps: int,
             simulated_s: float, ttft_slo_ms: float | None, tpot_slo_ms: float | None) -> ServingResult:
    overloaded = any(s.overloaded for _, s in summaries)

    def dist(name: str) -> Distribution:
        return distribution_ms(*_weighted(summaries, name))

    gaps = np.concatenate([s.gap_s for _, s in summaries])
    gap_weights = np.concatenate([s.gap_weight * r for r, s in summaries])
    tokens_per_s = float(sum(r * s.output_tokens_per_s for r, s in summaries))
    requests_per_s = float(sum(r * s.requests_per_s for r, s in summaries))
    goodput = None
    if not overloaded:
        goodput = float(sum(r * s.requests_per_s * float(meets_slo(s, ttft_ms=ttft_slo_ms, tpot_ms=tpot_slo_ms).mean())
                            for r, s in summaries))
    layers = pricer.attention.full_layers + pricer.attention.window_layers
    notes = []
    if dp > 1:
        notes.append(f"traffic split evenly over {dp} replicas; each distinct share simulated once")
    if traffic.closed:
        notes.append("closed loop: the first and last `concurrency` requests of each replica are not measured")
    else:
        notes.append("open loop: the first 10% of arrivals are not measured")
    if overloaded:
        notes.append("overloaded: the waiting queue grows without bound at this rate; latencies not reported")
    return ServingResult(
        requests=int(sum(r * len(s.ttft_s) for r, s in summaries)), replicas=dp,
        ttft_ms=None if overloaded else dist("ttft_s"), tpot_ms=dist("tpot_s"),
        itl_ms=distribution_ms(gaps, gap_weights),
        e2e_latency_ms=None if overloaded else dist("e2e_s"), queueing_ms=None if overloaded else dist("queue_s"),
        output_tokens_per_s=tokens_per_s, requests_per_s=requests_per_s, goodput_requests_per_s=goodput,
        peak_kv_fraction=peak_kv_pairs / max(limits.kv_capacity_pairs, 1.0),
        peak_kv_tokens=peak_kv_pairs / max(layers, 1), preemptions=preemptions, overloaded=overloaded,
        simulated_s=simulated_s, steps=steps, engine=engine.engine, release=engine.release,
        max_num_seqs=limits.max_num_seqs, max_num_batched_tokens=limits.max_num_batched_tokens,
        traffic=traffic_text(traffic), notes=tuple(notes))


def check_traffic(traffic: Traffic) -> None:
    """Raises InputError when the traffic is not one closed loop, one rate or one trace."""
    if traffic.closed == (traffic.rate_per_s is not None or traffic.arrival == "trace"):
        raise InputError(source="traffic", value=traffic.concurrency,
                         expected="exactly one of a concurrency (closed loop), a rate or a trace")
