"""Recommend under traffic: the best layout and engine batch limit (max_num_seqs) at a request rate or a
concurrency, with SLOs on TTFT and TPOT percentiles, through the serving simulator.

Decisions: the layout (TP, PP, DP) the space allows on the fleet; the engine's max_num_seqs per
replica, every integer from 1 to the largest batch that fits memory and the runtime's buckets (M,
`batches.batch_range`, the limit `recommend` without traffic uses); and the token budget per step
(`max_num_batched_tokens`), over a ladder (`token_budgets`): the engine profile's default and the powers of
two from 512 to 16,384 (Furiosa LLM: its compiled prefill chunk sizes). The budget is searched on a ladder,
not every integer, because the simulated latencies are not monotone in it (TTFT p90 of Llama-3.1-8B on one
H100 at 10 requests/s, 2,000 in / 200 out: 144 ms at 4,096 and 153 ms at 8,192), so no bisection is valid,
and every integer would cost thousands of runs per layout. Traffic is split evenly over the DP replicas, as
`simulate` splits it. Where the engine takes its limits per attention-DP rank (vLLM's data-parallel engine
cores, TensorRT-LLM's enable_attention_dp: `EngineProfile.limits_per_attention_dp_rank`), an ADP layout's
replica runs ADP x the flags: its max_num_seqs are the multiples of ADP and its budgets the ladder times ADP
(`rank_scale`), so that `--emit` writes whole flags that run what was simulated.

A setting is feasible when the simulated replicas keep up (open loop: the simulator's overload test
and the plan's drain test; a closed loop always keeps up) and the SLO percentiles hold. Objectives:
- goodput: requests/s that meet every SLO, per device: at a rate, the rate x the share of measured
  requests that meet them, so the rate per device bounds it. Closed loop: the measured goodput, no bound.
- throughput: output tokens/s per device. At a rate every feasible setting serves the rate, so this is
  the rate x the mean output length / devices: the fewest devices, then the lowest TPOT percentile.
  In a closed loop: the simulated output tokens/s per device.
- latency, ttft, e2e: the SLO percentile of TPOT, TTFT or end-to-end latency; the bound is the
  layout's latency with one request alone (load only adds to it).
Ties go to fewer devices, then the engine's default token budget (then the smaller budget), then the lower
TPOT percentile, then the smaller max_num_seqs (goodput: fewer devices, the default budget, the smaller
max_num_seqs, then TPOT).

Exactness over max_num_seqs, layout by layout and budget by budget:
1. Simulate at M. No replica ever held more than `peak_running` (P) requests at once, so every limit
   above P gives the very same run (the limit never bound): the values P + 1 .. M are one class,
   represented by M.
2. Open loop, below that: a larger limit admits more requests, so the queue (overload, TTFT) only
   improves and TPOT only worsens. Feasible limits are then an interval [lo, hi], found by bisection on
   each side. latency, and throughput at a rate, take lo (the lowest TPOT); ttft takes the smallest
   limit with hi's TTFT (bisection again); goodput and e2e (TTFT falls and TPOT rises with the limit)
   scan from lo while TPOT holds.
   This is a property of the simulator, not a theorem: `tests/property/test_under_load_vs_every_limit.py`
   checks it, and the answer, against a scan of every integer limit and budget of every layout on small
   instances.
   The same two monotone tests give a one-run certificate: a limit m whose queue fails and whose TPOT fails
   proves the budget infeasible (every limit up to m fails the queue, every limit from m fails TPOT), and
   a TPOT above the answer's at equal key terms proves it cannot win (`tpot_cut_ms`). The limit that
   settled a layout's last budget (or the last layout's) is tried first, before M: it often settles the
   next one in one run (DeepSeek-V3 on 16 H200 at 2 requests/s: 469 settings simulated before, 55 now;
   benchmarks/bench_disagg.py).
3. Closed loop: no assumption. Its clients move in waves whose TTFT need not fall as the limit rises,
   so every limit below P is simulated (P is at most the clients).
Budgets: the default first. Goodput and throughput at a rate stop there when its best reaches the layout's
bound (no budget can do better, and ties go to the default); otherwise every budget of the ladder is searched.
Layouts are visited best bound first (among equal bounds, the lowest TPOT the cost model estimates under
the load, `visit_order`) and the search stops when no remaining bound can beat the answers found (a bound
equal to an answer is still visited, for the tie-breaks; equal answers are ordered by layout key, so the
visiting order never changes the answer).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from autotune.solver.formulation import FEASIBLE, INFEASIBLE, OPTIMAL, UNKNOWN
from autotune.solver.planning import ReplicaLayout, SimulationSetting, Simulations, mean_lengths
from autotune.solver.request import Request

if TYPE_CHECKING:
    from autotune.solver.search import Problem
    from cost_models.serving.engines import EngineProfile
    from cost_models.serving.metrics import ServingResult
    from cost_models.serving.traffic import Lengths

#: Objectives under traffic (module docstring).
LOAD_OBJECTIVES = ("throughput", "goodput", "latency", "ttft", "e2e")
#: Requests one client sends to price a layout's unloaded latency (every one sees the same empty replica).
ALONE_REQUESTS = 3
#: Token budgets per step the search tries besides the engine's default (module docstring): powers of two from
#: 512, the budget vLLM's chunked prefill first shipped with for its best inter-token latency on A100
#: (vllm-project/vllm PR #4580, docs/source/models/performance.rst), to 16,384, SGLang's largest default
#: chunked_prefill_size (cost_models/serving/engines/sglang.yaml); the engines' defaults (2,048, 8,192,
#: 16,384) are rungs of it.
BUDGET_LADDER = tuple(2 ** k for k in range(9, 15))


@dataclass(frozen=True, kw_only=True)
class Load:
    """The traffic a recommendation serves and how it is simulated."""

    rate_per_s: float | None = None
    """Open loop: Poisson arrivals at this many requests/s (all replicas)."""
    concurrency: int | None = None
    """Closed loop: clients, each sending its next request when the last finishes."""
    lengths: Lengths
    lengths_text: str
    percentile: int = 90
    requests: int = 600
    """Requests per simulated replica (lengthened until a run reaches a steady state)."""
    seed: int = 0
    engine: EngineProfile

    @property
    def text(self) -> str:
        if self.concurrency is not None:
            return f"closed loop, {self.concurrency} clients"
        return f"Poisson arrivals at {self.rate_per_s:g} requests/s"


@dataclass(frozen=True, kw_only=True)
class Layout:
    """One fleet layout and the largest engine batch limit it holds."""

    tp: int
    pp: int
    dp: int
    devices: int
    max_batch: int
    """M: the largest sequences per replica that fit memory and the runtime's buckets."""
    ep: int = 1
    """Expert parallel degree of an MoE replica (its TP units split the experts into ep groups)."""
    adp: int = 1
    """Attention data parallel degree of an MoE replica (attention split by request over adp groups)."""

    @property
    def key(self) -> tuple[int, int, int, int, int]:
        return self.tp, self.pp, self.dp, self.ep, self.adp

    @property
    def label(self) -> str:
        moe = f" EP {self.ep} ADP {self.adp}" if (self.ep, self.adp) != (1, 1) else ""
        return f"TP {self.tp} PP {self.pp} DP {self.dp}{moe}"


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """The simulated result of one layout at one max_num_seqs, and whether it is feasible."""

    layout: Layout
    max_num_seqs: int
    max_num_batched_tokens: int
    """The engine's token budget per step the run used."""
    result: ServingResult
    keep_up_failure: str | None
    """None: the replicas keep up with the rate (always, in a closed loop); else why not."""
    ttft_ms: float
    """TTFT at the SLO percentile (inf when the replicas do not keep up)."""
    tpot_ms: float
    """TPOT at the SLO percentile (NaN when every request has one output token)."""
    ttft_slo_ms: float | None
    tpot_slo_ms: float | None

    @property
    def queue_ok(self) -> bool:
        """Keeps up and meets the TTFT SLO: what a larger limit can only help."""
        return self.keep_up_failure is None and (self.ttft_slo_ms is None or self.ttft_ms <= self.ttft_slo_ms)

    @property
    def tpot_ok(self) -> bool:
        """Meets the TPOT SLO: what a larger limit can only hurt (NaN: no TPOT to miss)."""
        return self.tpot_slo_ms is None or not self.tpot_ms > self.tpot_slo_ms

    @property
    def failure(self) -> str | None:
        """None when feasible, else what broke, in words."""
        if self.keep_up_failure is not None:
            return self.keep_up_failure
        p = self.percentile_word
        if not self.queue_ok:
            return f"TTFT {p} {self.ttft_ms:.1f} ms > {self.ttft_slo_ms:g} ms"
        if not self.tpot_ok:
            return f"TPOT {p} {self.tpot_ms:.1f} ms > {self.tpot_slo_ms:g} ms"
        return None

    percentile_word: str = "p90"


@dataclass(frozen=True, kw_only=True)
class LoadAnswer:
    """The best settings found, best first, with what was simulated."""

    status: str
    best: tuple[Outcome, ...]
    gap: float | None = None
    """When a time limit stopped the search: the best unvisited layout's bound minus the answer's value
    (None: no bound, or not stopped)."""
    rejected: tuple[tuple[Layout, str], ...]
    """Layouts simulated and found infeasible, with the reason at their best limit."""
    layouts_total: int
    layouts_simulated: int
    layouts_feasible: int
    """Simulated layouts with a feasible limit."""
    simulations: int


class _KeepUp(Simulations):
    """The plan's simulations, judged on keeping up only: the SLO percentiles are judged per limit here."""

    def failure(self, result, layout, rate_per_replica_s, requests):
        return self.keep_up_failure(result, layout, rate_per_replica_s, requests)


class Evaluator:
    """Simulations of (layout, max_num_seqs), cached for one recommendation."""

    def __init__(self, request: Request, load: Load) -> None:
        w = request.workload
        self.request = request
        self.load = load
        self.setting = SimulationSetting(model=request.model, hardware=request.hardware, dtype=w.dtype,
                                         kv_dtype=w.cache_dtype, engine=load.engine, lengths=load.lengths,
                                         params=_params(request), ttft_ms=w.ttft_ms, tpot_ms=w.tpot_ms,
                                         percentile=load.percentile, requests=load.requests, seed=load.seed)
        self.sims = _KeepUp(self.setting)
        self.cache: dict[tuple[int, ...], Outcome] = {}
        self.bounds: dict[tuple[int, int, int, int], ServingResult] = {}
        self.budgets = token_budgets(load, request.model.model_type)
        """The token budgets searched, the engine's default first, as the engine's flag takes them (per
        attention-DP rank where the engine's limits are; `budgets_of` gives a layout's replica budgets)."""
        self.hints: dict[tuple[int, ...] | None, int] = {}
        """By layout key: the limit that ended or bounded its last budget's search (`feasible_interval`); None:
        the last of any layout (a first guess for a layout not searched yet)."""

    def outcome(self, layout: Layout, seqs: int, budget: int | None = None) -> Outcome:
        """Returns the outcome of `seqs` sequences and `budget` tokens per step (None: the default budget)."""
        budget = self.budgets_of(layout)[0] if budget is None else budget
        key = (*layout.key, seqs, budget)
        if key not in self.cache:
            self.cache[key] = self._simulate(layout, seqs, budget)
        return self.cache[key]

    def budgets_of(self, layout: Layout) -> tuple[int, ...]:
        """Returns the replica token budgets searched on `layout`, the engine's default first: `budgets` times the
        attention-DP ranks when the engine's limits are per rank (`rank_scale`)."""
        scale = rank_scale(self.load.engine, layout)
        return tuple(b * scale for b in self.budgets)

    def _replica(self, layout: Layout, seqs: int, budget: int) -> ReplicaLayout:
        # The plan's replica record; its device grouping is not used here (the fleet layout counts devices).
        return ReplicaLayout(tp=layout.tp, pp=layout.pp, devices_per_group=layout.devices, replicas_per_group=layout.dp,
                             max_num_seqs=seqs, max_num_batched_tokens=budget, ep=layout.ep, adp=layout.adp)

    def _simulate(self, layout: Layout, seqs: int, budget: int) -> Outcome:
        s = self.setting
        if self.load.rate_per_s is not None:
            run = self.sims.run(self._replica(layout, seqs, budget), rate_per_s=self.load.rate_per_s,
                                replicas=layout.dp)
            result, keep_up = run.result, run.failure
        else:
            result, keep_up = self._closed_loop(layout, seqs, budget=budget), None
        p = s.percentile
        return Outcome(layout=layout, max_num_seqs=seqs, max_num_batched_tokens=budget, result=result,
                       keep_up_failure=keep_up,
                       ttft_ms=percentile_ms(result.ttft_ms, p) if keep_up is None else math.inf,
                       tpot_ms=percentile_ms(result.tpot_ms, p), ttft_slo_ms=s.ttft_ms, tpot_slo_ms=s.tpot_ms,
                       percentile_word=f"p{p}")

    def _closed_loop(self, layout: Layout, seqs: int, clients: int | None = None,
                     requests: int | None = None, budget: int | None = None) -> ServingResult:
        from cost_models.serving.simulator import simulate_layout
        from cost_models.serving.traffic import Traffic
        from cost_models.serving.validation import REQUESTS_PER_CLIENT  # the rounds a measured closed loop runs

        s = self.setting
        clients = self.load.concurrency if clients is None else clients
        if requests is None:
            requests = max(s.requests * layout.dp, REQUESTS_PER_CLIENT * clients)
        traffic = Traffic(requests=requests, lengths=s.lengths, concurrency=clients, seed=s.seed)
        return simulate_layout(s.model, s.hardware, dtype=s.dtype, kv_dtype=s.kv_dtype, tp=layout.tp, pp=layout.pp,
                               dp=layout.dp, engine=s.engine, traffic=traffic,
                               params=s.params, ttft_slo_ms=s.ttft_ms, tpot_slo_ms=s.tpot_ms, max_num_seqs=seqs,
                               max_num_batched_tokens=budget, ep=layout.ep, adp=layout.adp)

    def alone(self, layout: Layout) -> ServingResult:
        """Returns one replica serving one request at a time: the latencies no load can lower."""
        key = (layout.tp, layout.pp, layout.ep, layout.adp)
        if key not in self.bounds:
            one = replace(layout, dp=1)
            # One request alone: no other work shares a step, so no budget lowers its latency below this run's
            # at the largest budget searched (its prompt in the fewest chunks).
            self.bounds[key] = self._closed_loop(one, 1, clients=1, requests=ALONE_REQUESTS,
                                                 budget=max(self.budgets_of(layout)))
        return self.bounds[key]


def token_budgets(load: Load, model_type: str) -> tuple[int, ...]:
    """Returns the token budgets per step to search, the engine's default first, then the ladder ascending.

    GPU engines: BUDGET_LADDER; without chunked prefill (TensorRT-LLM's default) only budgets that hold the
    longest prompt whole. Furiosa LLM: its compiled prefill chunk sizes (a chunk runs padded to one of them).
    """
    engine = load.engine
    default = int(engine.max_num_batched_tokens)
    if engine.buckets is not None:
        b = engine.buckets.for_model(model_type)  # the model's artifacts may pad chunks to their own ladder
        ladder = b.prefill_chunk_ladder or tuple(range(b.prefill_chunk_step, b.prefill_chunk_max + 1,
                                                       b.prefill_chunk_step))
    else:
        ladder = BUDGET_LADDER
        if not engine.chunked_prefill:
            longest = int(max(load.lengths.input_len))
            ladder = tuple(t for t in ladder if t >= longest)
    return (default,) + tuple(sorted(set(ladder) - {default}))


def _params(request: Request):
    import cost_models

    return cost_models.load_params() if request.params is None else request.params


def percentile_ms(dist, percentile: int) -> float:
    """Returns a distribution's value at `percentile` (ms; inf for none: the replicas did not keep up)."""
    return math.inf if dist is None else float(getattr(dist, f"p{percentile}"))


def goodput_per_s(outcome: Outcome, load: Load) -> float:
    """Returns the requests/s that meet every SLO: at a rate, the rate x the share of measured requests that meet
    them (the offered rate, not the run's noisy window count, so that rate / devices bounds it); in a closed loop,
    the run's measured goodput."""
    r = outcome.result
    good = r.goodput_requests_per_s or 0.0
    if load.rate_per_s is None:
        return good
    if r.requests_per_s <= 0:
        return 0.0
    share = min(round(good / r.requests_per_s, 12), 1.0)  # a share of requests: float noise off, at most all
    return load.rate_per_s * share


def budget_terms(load: Load, layout: Layout, budget: int) -> tuple[float, float]:
    """Returns a budget's tie-break terms in the keys: the engine's default first (the flag a user need not set),
    then the smaller budget."""
    return float(budget != default_budget(load, layout)), float(budget)


def objective_key(outcome: Outcome, objective: str, load: Load) -> tuple[float, ...]:
    """Returns the sort key of a feasible outcome (smaller is better), ties included (module docstring)."""
    r, p, layout = outcome.result, load.percentile, outcome.layout
    tpot = outcome.tpot_ms if not math.isnan(outcome.tpot_ms) else 0.0
    budget_key = budget_terms(load, layout, outcome.max_num_batched_tokens)
    tail = (float(layout.devices),) + budget_key + (tpot, float(outcome.max_num_seqs))
    if objective == "goodput":  # ties: fewer devices, then the smaller limit (the scan stops at the first full one)
        return (-goodput_per_s(outcome, load) / layout.devices, float(layout.devices)) + budget_key + (
            float(outcome.max_num_seqs), tpot)
    if objective == "throughput":
        served = (load.rate_per_s * load.lengths.means()[1] if load.rate_per_s is not None
                  else r.output_tokens_per_s)
        return (-served / layout.devices,) + tail
    metric = {"latency": r.tpot_ms, "ttft": r.ttft_ms, "e2e": r.e2e_latency_ms}[objective]
    return (percentile_ms(metric, p),) + tail


def bound_key(evaluator: Evaluator, layout: Layout, objective: str) -> float | None:
    """Returns a bound on the first element of `objective_key` for any limit of `layout` (None: no bound)."""
    load = evaluator.load
    if objective in ("goodput", "throughput"):
        if load.rate_per_s is None:
            return None
        per_request = 1.0 if objective == "goodput" else load.lengths.means()[1]
        return -load.rate_per_s * per_request / layout.devices
    alone = evaluator.alone(layout)
    metric = {"latency": alone.tpot_ms, "ttft": alone.ttft_ms, "e2e": alone.e2e_latency_ms}[objective]
    value = float(metric.mean) if metric is not None else -math.inf
    return -math.inf if math.isnan(value) else value


def _bisect_first(lo: int, hi: int, ok, unit: int = 1) -> int:
    """Returns the smallest m in [lo, hi] with ok(m) among multiples of `unit` (lo and hi are), given ok is
    monotone rising and ok(hi)."""
    lo, hi = lo // unit, hi // unit
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid * unit):
            hi = mid
        else:
            lo = mid + 1
    return lo * unit


def _bisect_last(lo: int, hi: int, ok, unit: int = 1) -> int:
    """Returns the largest m in [lo, hi] with ok(m) among multiples of `unit` (lo and hi are), given ok is
    monotone falling and ok(lo)."""
    lo, hi = lo // unit, hi // unit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid * unit):
            lo = mid
        else:
            hi = mid - 1
    return lo * unit


def rank_scale(engine: EngineProfile, layout: Layout) -> int:
    """Returns how many engine schedulers share `layout`'s replica: its attention DP degree when the engine's
    limits are per attention-DP rank (`EngineProfile.limits_per_attention_dp_rank`: each rank schedules its own
    requests, so the replica holds ranks x the flag's sequences and tokens), else 1."""
    return layout.adp if engine.limits_per_attention_dp_rank else 1


def default_budget(load: Load, layout: Layout) -> int:
    """Returns the replica token budget of the engine's default flag on `layout` (`rank_scale`)."""
    return int(load.engine.max_num_batched_tokens) * rank_scale(load.engine, layout)


def largest_limit(evaluator: Evaluator, layout: Layout, budget: int) -> int:
    """Returns the largest max_num_seqs the engine runs with `budget` tokens per step on `layout` (M, or the
    budget where the engine rejects more sequences than tokens), a multiple of `rank_scale` (0: none fits)."""
    largest = min(layout.max_batch, budget) if evaluator.load.engine.seqs_within_budget else layout.max_batch
    unit = rank_scale(evaluator.load.engine, layout)
    return largest // unit * unit


class Interval:
    """A layout's feasible limits [lo, hi] at one budget (hi = M when the class above the run's peak is feasible).

    `at(m)` is the outcome of limit m (one run stands for every limit above the peak, `top`); `hi` is found by
    bisection when first asked for (the latency objectives need lo only; the scans stop where TPOT fails).
    """

    def __init__(self, *, lo: int, top: int, at, unit: int = 1) -> None:
        self.lo, self.top, self.at, self.unit = lo, top, at, unit

    @functools.cached_property
    def hi(self) -> int:
        return _bisect_last(self.lo, self.top, lambda m: self.at(m).tpot_ok, self.unit)

    def scan(self):
        """Yields the outcomes of lo, lo + unit, ... while TPOT holds (up to hi, without bisecting for it)."""
        for m in range(self.lo, self.top + 1, self.unit):
            outcome = self.at(m)
            if not outcome.tpot_ok:
                return
            yield outcome


def feasible_interval(evaluator: Evaluator, layout: Layout, budget: int | None = None, *,
                      tpot_cut_ms: float | None = None) -> tuple[Interval | None, str | None]:
    """Returns the layout's feasible max_num_seqs interval at `budget` tokens per step (None: the default budget;
    module docstring, steps 1 and 2), or None and why not, or (None, None) when cut by `tpot_cut_ms`.

    The queue test rises with the limit and the TPOT test falls, so one limit m whose queue fails and whose TPOT
    fails ends the search: every limit up to m fails the queue and every limit from m fails TPOT. The same holds
    for a TPOT above `tpot_cut_ms` (the caller's: lo's TPOT above it cannot matter), which cuts the layout at
    this budget. The limit that ended or bounded this layout's last budget is tried first (`Evaluator.hints`):
    budgets of one layout tend to end at the same limit, and one run there often settles the budget.
    """
    budget = evaluator.budgets_of(layout)[0] if budget is None else budget
    largest = largest_limit(evaluator, layout, budget)
    unit = rank_scale(evaluator.load.engine, layout)
    if largest < 1:
        return None, _no_rank_limit(layout, budget)
    cut = evaluator.setting.tpot_ms if evaluator.setting.tpot_ms is not None else math.inf
    if tpot_cut_ms is not None:
        cut = min(cut, tpot_cut_ms)

    def ended(m: int, probe: Outcome) -> tuple[None, str | None] | None:
        if probe.queue_ok or not probe.tpot_ms > cut:
            return None
        evaluator.hints[layout.key] = evaluator.hints[None] = m
        if not probe.tpot_ok:
            return None, (f"TPOT {probe.percentile_word} {probe.tpot_ms:.1f} ms > {probe.tpot_slo_ms:g} ms at "
                          f"max_num_seqs {m}, and fewer sequences do not keep the queue within the SLOs "
                          f"({budget} tokens per step)")
        return None, None  # cut: lo's TPOT is above `tpot_cut_ms`

    hint = evaluator.hints.get(layout.key, evaluator.hints.get(None))
    if hint is not None:
        hint = max(hint // unit, 1) * unit
    if hint is not None and hint < largest:
        stop = ended(hint, evaluator.outcome(layout, hint, budget))
        if stop is not None:
            return stop
    full = evaluator.outcome(layout, largest, budget)
    top = min(_above_peak(full, unit), largest)  # limits top..M all run exactly as M does

    def at(m: int) -> Outcome:
        return full if m >= top else evaluator.outcome(layout, m, budget)

    if not at(top).queue_ok:
        return None, f"{full.failure} (max_num_seqs {largest}, {budget} tokens per step)"
    lo, hi = 1, top // unit  # bisect for lo, the fewest sequences that keep the queue within the SLOs
    while lo < hi:
        mid = (lo + hi) // 2
        probe = at(mid * unit)
        if probe.queue_ok:
            hi = mid
            continue
        stop = ended(mid * unit, probe)
        if stop is not None:
            return stop
        lo = mid + 1
    lo *= unit
    evaluator.hints[layout.key] = evaluator.hints[None] = lo
    if not at(lo).tpot_ok:
        return None, (f"{at(lo).failure} (max_num_seqs {lo}, the fewest that keep the queue within the SLOs, "
                      f"{budget} tokens per step)")
    return Interval(lo=lo, top=top, at=at, unit=unit), None


def _above_peak(full: Outcome, unit: int) -> int:
    """Returns the smallest limit (a multiple of `unit`) above the run's peak of running requests: it and every
    larger limit run exactly as the largest does."""
    return -(-(full.result.peak_running + 1) // unit) * unit


def _no_rank_limit(layout: Layout, budget: int) -> str:
    return (f"no max_num_seqs per attention-DP rank fits: {layout.adp} ranks need at least {layout.adp} "
            f"sequences, and the replica holds {layout.max_batch} ({budget} tokens per step)")


def closed_loop_feasible(evaluator: Evaluator, layout: Layout,
                         budget: int | None = None) -> tuple[list[Outcome], str | None]:
    """Returns every feasible outcome of a closed loop over max_num_seqs in [1, M] at `budget` (None: the default),
    one per class (module docstring, step 1), or none and why not.

    A closed loop's clients send in waves whose TTFT need not fall as the limit rises (two prompts that share
    a step at an even limit wait apart at the odd one), so every limit below the run's peak is simulated: at
    most the clients, since no more requests than clients are ever in flight."""
    budget = evaluator.budgets_of(layout)[0] if budget is None else budget
    largest = largest_limit(evaluator, layout, budget)
    unit = rank_scale(evaluator.load.engine, layout)
    if largest < 1:
        return [], _no_rank_limit(layout, budget)
    full = evaluator.outcome(layout, largest, budget)
    top = min(_above_peak(full, unit), largest)
    outcomes = [evaluator.outcome(layout, m, budget) for m in range(unit, top, unit)] + [full]
    feasible = [o for o in outcomes if o.failure is None]
    if feasible:
        return feasible, None
    return [], f"{full.failure} (max_num_seqs {largest}, {budget} tokens per step; every smaller limit fails too)"


def best_limit(evaluator: Evaluator, layout: Layout, objective: str, budget: int | None = None,
               beat: tuple[float, ...] | None = None) -> tuple[Outcome | None, str | None]:
    """Returns the layout's best feasible outcome over every max_num_seqs in [1, M] at `budget` tokens per step
    (None: the default), or None and why not; (None, None) when no outcome here can beat or tie `beat`."""
    load = evaluator.load
    if load.concurrency is not None:
        feasible, why = closed_loop_feasible(evaluator, layout, budget)
        best = min(feasible, key=lambda o: objective_key(o, objective, load)) if feasible else None
        return best, why
    interval, why = feasible_interval(evaluator, layout, budget,
                                      tpot_cut_ms=tpot_cut_ms(evaluator, layout, objective, budget, beat))
    if interval is None:
        return None, why
    lo, at = interval.lo, interval.at
    if objective == "ttft":  # the lowest TTFT is hi's; the smallest limit with it has the lowest TPOT too
        hi = interval.hi
        fastest = at(hi).ttft_ms
        chosen = [at(_bisect_first(lo, hi, lambda m: at(m).ttft_ms <= fastest, interval.unit))]
    elif objective in ("goodput", "e2e"):
        chosen = []
        for outcome in interval.scan():
            chosen.append(outcome)
            if objective == "goodput" and load.rate_per_s is not None and \
                    goodput_per_s(outcome, load) >= load.rate_per_s:
                break  # every request meets the SLOs: a larger limit can only tie, and ties go to the smaller
    else:  # latency; throughput at a rate (the rate per device, then the lowest TPOT)
        chosen = [at(lo)]
    best = min(chosen, key=lambda o: objective_key(o, objective, load))
    return best, None


def tpot_cut_ms(evaluator: Evaluator, layout: Layout, objective: str, budget: int | None,
                beat: tuple[float, ...] | None) -> float | None:
    """Returns the TPOT above which lo's outcome at `budget` cannot beat or tie `beat` (None: no such TPOT).

    The objectives that take lo and rank it by its TPOT: latency (TPOT first) and throughput at a rate (the
    layout's bound, devices and budget, then TPOT: a cut only when the first three equal `beat`'s)."""
    if beat is None or evaluator.load.rate_per_s is None:
        return None
    if objective == "latency":
        return beat[0]
    if objective == "throughput":
        budget = evaluator.budgets_of(layout)[0] if budget is None else budget
        return beat[4] if key_head(evaluator, layout, objective, budget) == tuple(beat[:4]) else None
    return None


def key_head(evaluator: Evaluator, layout: Layout, objective: str, budget: int) -> tuple[float | None, ...]:
    """Returns the first four terms every outcome's key at `budget` on `layout` starts at least with: the layout's
    bound (`bound_key`), its devices and the budget's tie-break terms (`budget_terms`)."""
    return (bound_key(evaluator, layout, objective), float(layout.devices),
            *budget_terms(evaluator.load, layout, budget))


def best_setting(evaluator: Evaluator, layout: Layout, objective: str,
                 beat: tuple[float, ...] | None = None) -> tuple[Outcome | None, str | None]:
    """Returns the layout's best feasible outcome over every max_num_seqs and every token budget searched, or None
    and why not (the default budget's reason: the one a user meets without the flag).

    `beat`: the key of the answer an outcome must beat or tie to matter. A budget whose every outcome's key is
    above it (the layout's bound, its devices, then the budget's own tie-break terms) is not simulated; when
    that leaves no outcome, (None, None) says the layout was cut, not found infeasible.
    """
    load = evaluator.load
    default, *others = evaluator.budgets_of(layout)
    bound = bound_key(evaluator, layout, objective)

    def hopeless(budget: int) -> bool:
        """Every outcome's key at `budget` starts at least (bound, devices, not the default, budget): above
        `beat`'s first four terms, nothing at this budget can beat or tie it."""
        return beat is not None and bound is not None and \
            key_head(evaluator, layout, objective, budget) > tuple(beat[:4])

    best, why, cut = None, None, hopeless(default)
    if not cut:
        best, why = best_limit(evaluator, layout, objective, default, beat)
        if best is not None and objective in ("goodput", "throughput") and bound is not None \
                and objective_key(best, objective, load)[0] <= bound:
            return best, None  # the layout's bound, at the budget ties prefer: no other budget does better
        cut = best is None and why is None  # the default budget was cut
    for budget in others:
        if hopeless(budget):
            cut = True
            continue
        outcome, reason = best_limit(evaluator, layout, objective, budget, beat)
        cut = cut or (outcome is None and reason is None)
        if outcome is not None and (best is None or objective_key(outcome, objective, load)
                                    < objective_key(best, objective, load)):
            best = outcome
    return best, (None if best is not None or cut else why)


def served_tokens_per_s(outcome: Outcome, load: Load) -> float:
    """Returns the output tokens/s served: at a rate, the rate x the mean output length (every feasible setting
    serves the rate); in a closed loop, the simulated figure."""
    if load.rate_per_s is not None:
        return load.rate_per_s * load.lengths.means()[1]
    return outcome.result.output_tokens_per_s


def front(request: Request, load: Load, *, per_device: bool,
          evaluator: Evaluator | None = None) -> tuple[tuple[Outcome, ...], tuple[tuple[Layout, str], ...]]:
    """Returns the non-dominated feasible settings on (TPOT at the SLO percentile, lower; output tokens/s, total or
    `per_device`, higher), lowest TPOT first, and the layouts with no feasible limit.

    At a rate a layout's throughput is the rate's, so its point is its lowest-TPOT limit (lo); in a closed loop
    every feasible limit is a candidate point."""
    evaluator = evaluator or Evaluator(request, load)
    points: list[Outcome] = []
    rejected: list[tuple[Layout, str]] = []
    for layout in layouts_of(request, moe=True):
        reasons = []
        for budget in evaluator.budgets_of(layout):
            if load.concurrency is not None:
                feasible, why = closed_loop_feasible(evaluator, layout, budget)
                points.extend(feasible)
            else:
                interval, why = feasible_interval(evaluator, layout, budget)
                if interval is not None:
                    points.append(interval.at(interval.lo))
            if why is not None:
                reasons.append(why)
        if len(reasons) == len(evaluator.budgets_of(layout)):
            rejected.append((layout, reasons[0]))

    def throughput(o: Outcome) -> float:
        return served_tokens_per_s(o, load) / (o.layout.devices if per_device else 1)

    ordered = sorted(points, key=lambda o: (o.tpot_ms if not math.isnan(o.tpot_ms) else 0.0, -throughput(o),
                                            o.layout.devices, o.layout.key,
                                            *budget_terms(load, o.layout, o.max_num_batched_tokens),
                                            o.max_num_seqs))
    kept: list[Outcome] = []
    for o in ordered:
        if not kept or throughput(o) > throughput(kept[-1]):
            kept.append(o)
    return tuple(kept), tuple(rejected)


def layout_problem(request: Request) -> Problem:
    """Returns the static problem of the request without SLOs at batch 'auto': the rows `layouts_of` reads its
    layouts from and `visit_order` its TPOT estimates."""
    import dataclasses as dc

    return request.problem(dc.replace(request.workload, batch="auto", ttft_ms=None, tpot_ms=None))


def layouts_of(request: Request, *, moe: bool = False, problem: Problem | None = None) -> tuple[Layout, ...]:
    """Returns every layout the space allows on the fleet that holds one sequence, with its M, in (TP, PP, DP, EP,
    ADP) order: plain tensor-parallel ones, and with `moe` an MoE model's expert and attention data parallel ones
    too (`problem`: `layout_problem(request)`, when the caller has it)."""
    problem = layout_problem(request) if problem is None else problem
    c = problem.candidates
    rows = problem.feasible if moe else problem.feasible & (c.ep == 1) & (c.adp == 1)
    largest: dict[tuple[int, int, int, int, int], int] = {}
    devices: dict[tuple[int, int, int, int, int], int] = {}
    for row in np.flatnonzero(rows).tolist():
        key = (int(c.tp[row]), int(c.pp[row]), int(c.dp[row]), int(c.ep[row]), int(c.adp[row]))
        largest[key] = max(largest.get(key, 0), int(c.batch[row]))
        devices[key] = int(problem.plan(row).cards_used)
    return tuple(Layout(tp=k[0], pp=k[1], dp=k[2], ep=k[3], adp=k[4], devices=devices[k], max_batch=largest[k])
                 for k in sorted(largest))


def visit_order(problem: Problem, load: Load, layouts: tuple[Layout, ...], bounds: list[float | None]) -> list[int]:
    """Returns the order `search` visits layouts in: best bound first; among equal bounds, the lowest TPOT the
    cost model estimates at the batch a replica holds under the load (Little's law: the smallest batch b with
    b >= its rate x output length x TPOT(b), TPOT interpolated between the batches the problem evaluates; a
    layout no batch keeps up with goes last), so that a feasible
    answer is found early and its key cuts the budgets of the rest (`best_setting`'s `beat`). The order
    changes how many runs the search makes, never its answer: every layout whose bound can match the answer
    is visited, and ties between answers are broken by key.
    """
    estimate: dict[tuple[int, ...], float] = {}
    if load.rate_per_s is not None:  # `problem`: `layout_problem` of the request
        outputs = float(load.lengths.means()[1])
        c, tpot_s = problem.candidates, np.asarray(problem.table.tpot_s, dtype=float)
        points: dict[tuple[int, ...], list[tuple[int, float]]] = {}  # the (batch, TPOT s) rows the problem has
        for row in np.flatnonzero(problem.feasible).tolist():
            key = (int(c.tp[row]), int(c.pp[row]), int(c.dp[row]), int(c.ep[row]), int(c.adp[row]))
            points.setdefault(key, []).append((int(c.batch[row]), float(tpot_s[row])))
        for layout in layouts:
            if layout.key not in points:
                continue
            known = np.array(sorted(points[layout.key]), dtype=float)
            batches = np.arange(1, layout.max_batch + 1, dtype=float)
            tpot = np.interp(batches, known[:, 0], known[:, 1])  # between the rows the problem evaluated
            holds = np.flatnonzero(batches >= load.rate_per_s / layout.dp * outputs * tpot)
            if len(holds):
                estimate[layout.key] = float(tpot[holds[0]])
    return sorted(range(len(layouts)), key=lambda i: (-math.inf if bounds[i] is None else bounds[i],
                                                      estimate.get(layouts[i].key, math.inf), layouts[i].key))


def search(request: Request, load: Load, objective: str, *, top: int = 1,
           evaluator: Evaluator | None = None, time_limit_s: float | None = None) -> LoadAnswer:
    """Returns the `top` best (layout, max_num_seqs) settings under `load` for `objective`, best first
    (`evaluator`: simulations already made for this request and load, reused).

    With `time_limit_s`, layouts stop being visited once it has passed: the answer is then FEASIBLE
    (UNKNOWN if none was found) and `gap` says how far the best unvisited bound is from it.
    """
    import time

    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    evaluator = evaluator or Evaluator(request, load)
    problem = layout_problem(request)
    layouts = layouts_of(request, moe=True, problem=problem)
    bounds = [bound_key(evaluator, layout, objective) for layout in layouts]
    order = visit_order(problem, load, layouts, bounds)
    found: list[Outcome] = []
    rejected: list[tuple[Layout, str]] = []
    visited = 0
    cut: int | None = None
    for i in order:
        if deadline is not None and time.monotonic() > deadline:
            cut = i
            break
        kth = None
        if len(found) >= top:
            kth = sorted(objective_key(o, objective, load) for o in found)[top - 1]
            if bounds[i] is not None and bounds[i] > kth[0]:
                break  # bounds only rise from here: nothing left can beat the answers
        visited += 1
        outcome, why = best_setting(evaluator, layouts[i], objective, beat=kth)
        if outcome is not None:
            found.append(outcome)
        elif why is not None:  # None and no reason: cut by `beat`, not infeasible
            rejected.append((layouts[i], why))
    found.sort(key=lambda o: (objective_key(o, objective, load), o.layout.key))
    status, gap = (OPTIMAL if found else INFEASIBLE), None
    if cut is not None:
        status = FEASIBLE if found else UNKNOWN
        if found and bounds[cut] is not None:
            gap = abs(objective_key(found[0], objective, load)[0] - bounds[cut])
    return LoadAnswer(status=status, gap=gap, best=tuple(found[:top]), rejected=tuple(rejected),
                      layouts_total=len(layouts), layouts_simulated=visited, layouts_feasible=len(found),
                      simulations=len(evaluator.cache))


def make_load(request: Request, *, rate: float | None, concurrency: int | None, lengths_file=None,
              slo_percentile: int = 90, engine: str | None = None, requests: int = 600, seed: int = 0) -> Load:
    """Returns the checked Load of a request (InputError naming the flag when an input is out of range)."""
    import os

    from autotune.errors import InputError
    from autotune.solver.planning import MAX_REQUESTS, check_traffic_inputs
    from cost_models.serving.engines import default_engine, engine_releases, load_engine
    from cost_models.serving.traffic import fixed_lengths, is_trace_file, load_lengths

    if (rate is None) == (concurrency is None):
        raise InputError(source="--rate/--concurrency", value=None, has_value=False,
                         expected="exactly one of --rate (requests/s, open loop) or --concurrency (clients)")
    check_traffic_inputs(rate=rate, slo_percentile=slo_percentile,
                         integers=(("--concurrency", concurrency, 1, 1_000_000),
                                   ("--requests", requests, 20, MAX_REQUESTS), ("--seed", seed, 0, 2**31 - 1)))
    w = request.workload
    lengths, text = fixed_lengths(w.input_len, w.output_len), f"fixed {w.input_len} in / {w.output_len} out"
    if lengths_file is not None:
        if is_trace_file(lengths_file):
            raise InputError(source=str(lengths_file), value=None, has_value=False,
                             expected="a sample of input_len, output_len (a trace's timestamps are for `simulate`)")
        lengths = load_lengths(lengths_file)
        text = f"sample {os.fspath(lengths_file)}"
    name = engine or default_engine(request.hardware)
    release = request.space.release if request.space.release in engine_releases(name) else None
    profile = load_engine(name, request.hardware, release)
    return Load(rate_per_s=None if rate is None else float(rate), concurrency=concurrency, lengths=lengths,
                lengths_text=text, percentile=int(slo_percentile), requests=int(requests), seed=int(seed),
                engine=profile)


def resolve_under_load(model, hardware, workload, *, lengths_file, **keywords):
    """Returns the resolved request and its Load under traffic (the sample's mean lengths for memory)."""
    import dataclasses

    from autotune.errors import InputError
    from autotune.solver.request import resolve
    from autotune.specs.workload import AUTO

    load_keys = ("rate", "concurrency", "slo_percentile", "engine", "requests", "seed")
    load_args = {k: keywords.pop(k) for k in load_keys}
    if workload is not None and workload.batch != AUTO:
        raise InputError(source="--batch", value=workload.batch,
                         expected="auto under --rate/--concurrency (the engine's max_num_seqs is searched)")
    request = resolve(model, hardware, workload, **keywords)
    load = make_load(request, lengths_file=lengths_file, **load_args)
    if lengths_file is not None:  # memory and the batch limit at the sample's mean lengths
        mean_in, mean_out = mean_lengths(load.lengths)
        request = dataclasses.replace(request, workload=dataclasses.replace(request.workload, input_len=mean_in,
                                                                            output_len=mean_out))
    return request, load
