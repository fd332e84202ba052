"""`plan`: the fewest devices, and the replica layout, that serve a request rate within SLO percentiles.

    from autotune import Workload, plan
    result = plan("llama-3.1-8b", "h100-sxm", Workload(input_len=1000, output_len=200, tpot_ms=50), rate=20)
    print(result.to_dict()["recommendations"][0]["replicas"])

Method:

1. Candidate replica layouts are the space's layouts of ONE replica (DP 1) that fit one machine:
   `build_problem` on one machine's devices (batch 1, no SLOs), the DP 1 rows that break no rule
   and fit memory (an MoE model's expert and attention data parallel layouts included). A layout
   smaller than a device (RNGD TP 1, 2 or 4 PEs) packs units // TP replicas on a card, as
   `specs.candidates.devices_used` counts them; such replicas share the card's memory.
2. Each replica's engine runs with max_num_seqs = the layout's largest batch that fits memory and
   the runtime's decode buckets (`batches.batch_range` without SLOs, at the workload's mean
   lengths; with every packed replica on the card), a multiple of the ADP degree where the
   engine's limits are per attention-DP rank. The token budget is the engine profile's (per rank
   likewise).
3. Per-replica capacity: the highest Poisson rate (requests/s) at which the serving simulator
   (`simulate_layout`, `requests` requests per simulation, 600 by default, one `seed`) says the
   replica keeps up and meets the SLOs at the chosen percentile (p50, p90 or p99 of TTFT and
   TPOT). Keeping up: the simulator's overload test, and a drain test for bursts too short to
   show a growing queue: the replica finishes within 5% of the arrival span plus one full-batch
   request's latency (the closed form's) after the last arrival. Found by bisection over an integer grid of rates (`RATE_SCALE` units
   per request/s) to 1%: the bracket starts at the closed-form steady state's throughput at
   max_num_seqs clients (`closed_loop_steady_state`, output tokens/s / output length), doubled
   while it still passes, halved down while it fails. Simulations are cached per (layout, rate).
   Deterministic: the arrivals of a seed scale exactly with 1 / rate.
4. Replicas: a CP-SAT model with one Boolean per layout (a plan uses one layout) and integer
   replica and device-group counts; with `rate`, minimise devices (then replicas, then the rate
   served, maximised) subject to replicas x capacity >= rate, both in `RATE_SCALE` integers, and
   devices <= `max_cards`; with `cards`, maximise replicas x capacity within the cards.
5. The serving check: the chosen layout is simulated with its replicas at the rate (the traffic
   split evenly, `requests` per replica) and must meet the SLOs; with one replica fewer it must
   not. When one fewer still serves it (the bisection's 1% band), fewer are taken and a note says
   so; when the chosen count does not serve it, replicas are added.

The capacity table (devices -> highest rate served within the SLOs) is the same model's answer for
every device count up to the plan's, listed where it rises.
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.sat.python import cp_model

from autotune.solver.request import MAX_FLEET_UNITS, resolve
from autotune.errors import InfeasibleError, InputError
from autotune.solver.fanout import check_fan_out, fan_out
from autotune.solver.formulation import INFEASIBLE, OPTIMAL
from autotune.solver.search import expand_batches
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import Workload

if TYPE_CHECKING:
    from cost_models.params import Calibration, CostParams
    from cost_models.serving.engines import EngineProfile
    from cost_models.serving.metrics import Distribution, ServingResult
    from cost_models.serving.traffic import Lengths

__all__ = ["plan", "PlanResult"]

#: Rates become integers in units of 1e-4 requests/s (CP-SAT is integer-only; the bisection walks the same grid).
RATE_SCALE = 10_000
#: Requests per simulated replica (a 70B replica on RNGD simulates 600 requests in about 20 ms).
DEFAULT_REQUESTS = 600
#: Percentiles the simulator reports, the ones an SLO may bound.
SLO_PERCENTILES = (50, 90, 99)
#: The bisection stops when the failing rate is within this share above the passing one.
BISECTION_TOLERANCE = 0.01
#: Doublings of the steady-state bound tried while the replica still serves it.
MAX_DOUBLINGS = 6
#: Rows of the capacity table at most (the steps where the rate rises; thinned beyond this).
MAX_CAPACITY_ROWS = 32
#: Most requests per simulated replica (--requests).
MAX_REQUESTS = 100_000
#: A run holds at least this many times the requests in the system (rate x mean latency), else it is lengthened.
RUN_TURNOVERS = 8
#: Most requests per replica a lengthened run takes.
MAX_PROBE_REQUESTS = 20_000


@dataclass(frozen=True, kw_only=True)
class ReplicaLayout:
    """One replica's layout and how its replicas occupy devices."""

    tp: int
    pp: int
    devices_per_group: int
    """Devices a group of `replicas_per_group` replicas occupies: PP x ceil(TP / units per device)."""
    replicas_per_group: int
    """Replicas packed on one group of devices: units // TP for a TP smaller than a device, else 1."""
    max_num_seqs: int
    """The engine's batch limit: the largest batch per replica that fits memory and the runtime's buckets."""
    max_num_batched_tokens: int | None = None
    """The engine's token budget per step (None: the engine profile's default)."""
    ep: int = 1
    """Expert parallel degree (MoE; 1: plain tensor parallel)."""
    adp: int = 1
    """Attention data parallel degree (MoE; 1: attention split by head only)."""
    limit_ranks: int = 1
    """Ranks that each take the engine's max_num_seqs flag: ADP where the engine's limits are per attention-DP
    rank (`EngineProfile.limits_per_attention_dp_rank`), else 1; max_num_seqs is a multiple of it."""

    def devices(self, replicas: int) -> int:
        """Returns the devices `replicas` replicas occupy."""
        return self.devices_per_group * -(-replicas // self.replicas_per_group)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """(TP, PP, EP, ADP): what the step pricer of one replica depends on."""
        return self.tp, self.pp, self.ep, self.adp

    @property
    def label(self) -> str:
        return layout_label(self.tp, self.pp, self.ep, self.adp)


def layout_label(tp: int, pp: int, ep: int, adp: int) -> str:
    """Returns a replica layout in the reports' words: `TP 4 PP 1`, and `TP 4 PP 1 EP 1 ADP 4` with MoE degrees."""
    moe = f" EP {ep} ADP {adp}" if (ep, adp) != (1, 1) else ""
    return f"TP {tp} PP {pp}{moe}"


@dataclass(frozen=True, kw_only=True)
class LayoutCapacity:
    """The highest rate one replica of a layout serves within the SLOs (0: none), found by bisection."""

    layout: ReplicaLayout
    rate_units: int
    """Capacity in RATE_SCALE units per request/s."""
    bound_rate_per_s: float
    """The closed-form steady state's requests/s at max_num_seqs clients (where the bracket starts)."""
    simulations: int
    reason: str | None = None
    """Why the capacity is 0: what the lowest rate tried broke."""

    @property
    def rate_per_s(self) -> float:
        return self.rate_units / RATE_SCALE


@dataclass(frozen=True, kw_only=True)
class ServingCheck:
    """One simulation of `replicas` replicas at a total rate, against the SLO percentiles."""

    replicas: int
    rate_per_s: float
    result: ServingResult | None
    """None for zero replicas (they serve nothing)."""
    failure: str | None
    """None when the SLOs are met and the replicas keep up; else what broke, in words with numbers."""
    requests_per_replica: int = 0
    """Requests each replica simulated (lengthened from --requests when the system holds many)."""

    @property
    def meets_slos(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, Any]:
        return {"replicas": self.replicas, "rate_per_s": round(self.rate_per_s, 6), "meets_slos": self.meets_slos,
                "failure": self.failure, "requests_per_replica": self.requests_per_replica}


@dataclass(frozen=True, kw_only=True)
class PlanRecommendation:
    """A plan: one layout, its replicas and devices, the rate it serves and what the check simulated."""

    layout: ReplicaLayout
    replicas: int
    cards_used: int
    pes_used: int
    rate_served: float
    """Highest total rate served within the SLOs: replicas x the per-replica capacity (at least the rate checked)."""
    check: ServingCheck
    """The replicas simulated at the rate (with `cards`: at `rate_served`)."""
    fewer: ServingCheck
    """One replica fewer at the same rate (zero replicas: serve nothing)."""

    def to_dict(self) -> dict[str, Any]:
        result = self.check.result

        def dist(d: Distribution | None) -> dict[str, float] | None:
            return None if d is None else d.to_dict()

        return {
            "tensor_parallel_size": self.layout.tp, "pipeline_parallel_size": self.layout.pp,
            "data_parallel_size": self.replicas, "replicas": self.replicas, "cards_used": self.cards_used,
            "pes_used": self.pes_used, "expert_parallel_size": self.layout.ep,
            "attention_data_parallel_size": self.layout.adp, "batch_size": self.layout.max_num_seqs,
            "max_num_seqs": self.layout.max_num_seqs,
            "max_num_seqs_flag": self.layout.max_num_seqs // self.layout.limit_ranks,
            "max_num_batched_tokens": result.max_num_batched_tokens,
            "rate_served": round(self.rate_served, 6),
            "rate_served_per_replica": round(self.rate_served / self.replicas, 6),
            "ttft_ms": dist(result.ttft_ms), "tpot_ms": dist(result.tpot_ms),
            "e2e_latency_ms": dist(result.e2e_latency_ms),
            "goodput_requests_per_s": None if result.goodput_requests_per_s is None
            else round(result.goodput_requests_per_s, 6),
            "output_tokens_per_s": round(result.output_tokens_per_s, 4),
            "requests_per_s": round(result.requests_per_s, 6),
            "check": self.check.to_dict(), "fewer_replicas_check": self.fewer.to_dict(),
        }


@dataclass(frozen=True, kw_only=True)
class CapacityPoint:
    """Devices and the highest rate they serve within the SLOs, with the layout that does it."""

    cards: int
    rate_served: float
    tp: int
    pp: int
    replicas: int
    ep: int = 1
    adp: int = 1

    @property
    def label(self) -> str:
        return layout_label(self.tp, self.pp, self.ep, self.adp)

    def to_dict(self) -> dict[str, Any]:
        return {"cards": self.cards, "rate_served": round(self.rate_served, 6), "tensor_parallel_size": self.tp,
                "pipeline_parallel_size": self.pp, "expert_parallel_size": self.ep,
                "attention_data_parallel_size": self.adp, "replicas": self.replicas}


@dataclass(frozen=True, kw_only=True)
class PlanAssumptions:
    """What a plan was computed for."""

    model: str
    hardware: str
    space: str
    engine: str
    release: str
    dtype: str
    kv_dtype: str
    input_len: int
    """Mean prompt tokens (of the sample when lengths come from a file)."""
    output_len: int
    lengths: str
    ttft_ms: float | None
    tpot_ms: float | None
    slo_percentile: int
    arrival: str
    requests_per_simulation: int
    seed: int
    max_cards: int
    device_name: str
    unit_name: str
    devices_per_node: int
    calibration: Calibration | None = None
    """Whether the cost model's efficiencies were fitted on this hardware (`calibration_for`)."""

    def __post_init__(self) -> None:
        if self.calibration is None:
            from cost_models.params import calibration_for
            object.__setattr__(self, "calibration", calibration_for(self.hardware))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["calibration"] = self.calibration.to_dict()
        return out


@dataclass(frozen=True, kw_only=True)
class PlanResult:
    """The plan (or why none), the per-layout capacities and the capacity table."""

    status: str
    rate: float | None
    cards: int | None
    recommendations: tuple[PlanRecommendation, ...]
    capacity: tuple[CapacityPoint, ...]
    layouts: tuple[LayoutCapacity, ...]
    assumptions: PlanAssumptions
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    modes: Mapping[str, Any] | None = None
    """With --mode disagg or both: which mode serves the rate on fewer devices (`solver.disagg_answers`)."""
    disaggregated: Mapping[str, Any] | None = None
    """With --mode disagg or both: the disaggregated deployment (a recommendation's JSON) or why none."""

    def to_dict(self) -> dict[str, Any]:
        extra = {} if self.modes is None else {"modes": dict(self.modes), "disaggregated": dict(self.disaggregated)}
        return extra | {
            "status": self.status, "rate": self.rate, "cards": self.cards,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "capacity": [p.to_dict() for p in self.capacity],
            "layouts": [{"tensor_parallel_size": c.layout.tp, "pipeline_parallel_size": c.layout.pp,
                         "cards_per_replica_group": c.layout.devices_per_group,
                         "replicas_per_group": c.layout.replicas_per_group, "max_num_seqs": c.layout.max_num_seqs,
                         "rate_served_per_replica": round(c.rate_per_s, 6),
                         "steady_state_bound_per_s": round(c.bound_rate_per_s, 6), "simulations": c.simulations,
                         "reason": c.reason} for c in self.layouts],
            "assumptions": self.assumptions.to_dict(), "reasons": list(self.reasons), "notes": list(self.notes),
        }


# --- validation ---------------------------------------------------------------------------------------------

def _check_inputs(*, rate: Any, cards: Any, slo_percentile: Any, requests: Any, seed: Any, max_cards: Any,
                  most_cards: int) -> None:
    if (rate is None) == (cards is None):
        raise InputError(source="--rate/--cards", value=None, has_value=False,
                         expected="exactly one of --rate (the fewest cards for a rate) or --cards (the highest rate "
                                  "of N cards)")
    check_traffic_inputs(rate=rate, slo_percentile=slo_percentile,
                         integers=(("--cards", cards, 1, most_cards), ("--max-cards", max_cards, 1, most_cards),
                                   ("--requests", requests, 20, MAX_REQUESTS), ("--seed", seed, 0, 2**31 - 1)))


def check_traffic_inputs(*, rate: Any, slo_percentile: Any,
                         integers: Sequence[tuple[str, Any, int, int]]) -> None:
    """Raises InputError naming the flag for a rate, an SLO percentile or an integer (flag, value, low, high) out of
    range; None values are not given and pass."""
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate)
                             or not 1.0 / RATE_SCALE <= rate <= 1e6):
        raise InputError(source="--rate", value=rate, expected=f"a number of requests/s in [{1 / RATE_SCALE:g}, 1e6]")
    for flag, value, low, high in integers:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                                  or not low <= value <= high):
            raise InputError(source=flag, value=value, expected=f"an integer in [{low}, {high}]")
    if slo_percentile not in SLO_PERCENTILES:
        raise InputError(source="--slo-percentile", value=slo_percentile,
                         expected="one of " + ", ".join(str(p) for p in SLO_PERCENTILES) + " (the percentiles the "
                                  "simulator reports)")


def slo_failure(result: ServingResult, *, ttft_ms: float | None, tpot_ms: float | None,
                percentile: int) -> str | None:
    """Returns None when `result` keeps up and meets the SLOs at `percentile`, else what broke, in words."""
    if result.overloaded:
        return "overloaded (the waiting queue grows without bound)"
    key = f"p{percentile}"
    if ttft_ms is not None:
        value = getattr(result.ttft_ms, key)
        if not value <= ttft_ms:
            return f"TTFT {key} {value:.1f} ms > {ttft_ms:g} ms"
    if tpot_ms is not None:
        value = getattr(result.tpot_ms, key)
        if value > tpot_ms:  # NaN (one-token requests have no TPOT) misses nothing
            return f"TPOT {key} {value:.1f} ms > {tpot_ms:g} ms"
    return None


# --- candidate layouts --------------------------------------------------------------------------------------

def mean_lengths(lengths: Lengths) -> tuple[int, int]:
    """Returns the (prompt, output) lengths' weighted means, rounded to tokens (at least 1)."""
    mean_in, mean_out = lengths.means()
    return max(int(round(mean_in)), 1), max(int(round(mean_out)), 1)


def replica_layouts(model: ModelSpec, hardware: HardwareSpec, space: SearchSpace, workload: Workload, *,
                    params: CostParams, per_rank_limits: bool = False) -> tuple[tuple[ReplicaLayout, ...], str | None]:
    """Returns the layouts of one replica that fit one machine, with their engines' max_num_seqs, or why none.

    An MoE model's expert and attention data parallel layouts are among them where the space runs them.
    `per_rank_limits`: the engine takes max_num_seqs per attention-DP rank
    (`EngineProfile.limits_per_attention_dp_rank`), so an ADP layout's limit is rounded down to a multiple of
    its ADP degree, the replica total of a whole per-rank flag.
    """
    import cost_models
    from autotune.solver import batches as batches_

    node = hardware.devices_per_node
    bare = dataclasses.replace(workload, batch=1, ttft_ms=None, tpot_ms=None)
    request = resolve(model, hardware, bare, cards=node, space=space, params=params)
    problem = request.problem()
    c = problem.candidates
    single = np.flatnonzero(c.dp == 1)
    rows = single[problem.feasible[single]]
    if len(rows) == 0:
        largest = int(single[np.argmax(c.tp[single] * c.pp[single])]) if len(single) else None
        why = "; ".join(problem.violations(largest)) if largest is not None else "no layout"
        return (), (f"no layout of one replica fits one machine of {node} {hardware.device_name}s "
                    f"(e.g. TP {int(c.tp[largest])} PP {int(c.pp[largest])}: {why})" if largest is not None else why)
    shapes = sorted({(int(c.tp[r]), int(c.pp[r]), int(c.ep[r]), int(c.adp[r])) for r in rows.tolist()})
    upd = hardware.compute_units_per_device
    tp, pp, ep, adp = (np.array([s[i] for s in shapes], dtype=np.int64) for i in range(4))
    packed = np.where(tp < upd, np.maximum(upd // tp, 1), 1)

    def evaluate(rows_):
        return cost_models.evaluate(model, hardware, bare, rows_, params=params)

    def largest_batch(dp: np.ndarray) -> np.ndarray:
        layouts = expand_batches(tp, pp, dp, (1,), node, ep=ep, adp=adp)
        ranges = batches_.batch_range(evaluate, space, bare, layouts)
        return np.minimum(ranges.memory, ranges.runtime)

    alone = largest_batch(np.ones(len(shapes), dtype=np.int64))
    shared = largest_batch(packed) if (packed > 1).any() else alone
    out = []
    for k, (t, p, e, a) in enumerate(shapes):
        # Packed replicas share the card's memory: pack only when each still holds one sequence.
        group = int(packed[k]) if shared[k] >= 1 else 1
        seqs = int(shared[k] if group > 1 else alone[k])
        ranks = a if per_rank_limits else 1
        seqs -= seqs % ranks
        if seqs < 1:
            continue
        out.append(ReplicaLayout(tp=t, pp=p, devices_per_group=p * -(-t // upd), replicas_per_group=group,
                                 max_num_seqs=seqs, ep=e, adp=a, limit_ranks=ranks))
    if not out:
        return (), f"no layout of one replica holds one sequence of {workload.context_len} tokens in memory"
    return tuple(out), None


# --- per-replica capacity -----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class SimulationSetting:
    """Everything a simulation needs besides the layout and the rate."""

    model: ModelSpec
    hardware: HardwareSpec
    dtype: str
    kv_dtype: str
    engine: EngineProfile
    lengths: Lengths
    params: CostParams
    ttft_ms: float | None
    tpot_ms: float | None
    percentile: int
    requests: int
    seed: int


@dataclass(frozen=True, kw_only=True)
class SteadyFigures:
    """The closed-form steady state of a replica at max_num_seqs clients."""

    rate_per_s: float
    """Requests/s (output tokens/s / output length): where the bisection's bracket starts."""
    full_batch_e2e_s: float
    """A request's latency in a full batch without waiting (TTFT + (O - 1) TPOT): the drain allowance."""


def steady_figures(setting: SimulationSetting, layout: ReplicaLayout) -> SteadyFigures:
    """Returns the closed-form steady state's requests/s and full-batch latency of one replica of `layout`."""
    from cost_models.serving.simulator import prepare_replica
    from cost_models.serving.steady import closed_loop_steady_state

    pricer, limits = prepare_replica(setting.model, setting.hardware, dtype=setting.dtype, kv_dtype=setting.kv_dtype,
                                     tp=layout.tp, pp=layout.pp, engine=setting.engine, params=setting.params,
                                     max_num_seqs=layout.max_num_seqs,
                                     max_num_batched_tokens=layout.max_num_batched_tokens, ep=layout.ep,
                                     adp=layout.adp)
    mean_in, mean_out = mean_lengths(setting.lengths)
    steady = closed_loop_steady_state(pricer, limits, concurrency=limits.max_num_seqs, input_len=mean_in,
                                      output_len=mean_out)
    rate = steady.output_tokens_per_s / mean_out
    e2e = steady.ttft_s + (mean_out - 1) * steady.tpot_s
    return SteadyFigures(rate_per_s=rate if math.isfinite(rate) and rate > 0 else 1.0,
                         full_batch_e2e_s=e2e if math.isfinite(e2e) and e2e > 0 else 0.0)


def last_arrival_s(setting: SimulationSetting, rate_per_s: float, requests: int) -> float:
    """Returns when the last of one replica's `requests` Poisson arrivals comes (s), as `simulate_layout` draws them.

    Mirrors `cost_models.serving.simulator._run_share`: one generator per seed, lengths drawn first.
    """
    from cost_models.serving.traffic import Traffic, open_arrivals_s

    rng = np.random.default_rng(setting.seed)
    setting.lengths.sample(requests, rng)
    traffic = Traffic(requests=requests, lengths=setting.lengths, rate_per_s=rate_per_s, seed=setting.seed)
    return float(open_arrivals_s(traffic, rng)[-1])


@dataclass(frozen=True, kw_only=True)
class _Run:
    """One simulation of `replicas` replicas, each with `requests` requests, and its verdict."""

    result: ServingResult
    requests: int
    failure: str | None


class Simulations:
    """Simulations of one replica per (layout, rate units), cached for the process of one plan."""

    def __init__(self, setting: SimulationSetting) -> None:
        self.setting = setting
        self.cache: dict[tuple[int, int, int], _Run] = {}
        self.steady: dict[tuple[int, ...], SteadyFigures] = {}

    def figures(self, layout: ReplicaLayout) -> SteadyFigures:
        key = (layout.tp, layout.pp, layout.ep, layout.adp, layout.max_num_seqs, layout.max_num_batched_tokens)
        if key not in self.steady:
            self.steady[key] = steady_figures(self.setting, layout)
        return self.steady[key]

    def _simulate(self, layout: ReplicaLayout, *, rate_per_s: float, replicas: int, requests: int) -> ServingResult:
        from cost_models.serving.simulator import simulate_layout
        from cost_models.serving.traffic import Traffic

        s = self.setting
        # Each replica gets `requests` requests at rate / replicas (simulate_layout splits them evenly).
        traffic = Traffic(requests=requests * replicas, lengths=s.lengths, rate_per_s=rate_per_s, seed=s.seed)
        return simulate_layout(s.model, s.hardware, dtype=s.dtype, kv_dtype=s.kv_dtype, tp=layout.tp, pp=layout.pp,
                               dp=replicas, engine=s.engine, traffic=traffic, params=s.params,
                               ttft_slo_ms=s.ttft_ms, tpot_slo_ms=s.tpot_ms, max_num_seqs=layout.max_num_seqs,
                               max_num_batched_tokens=layout.max_num_batched_tokens, ep=layout.ep, adp=layout.adp)

    def run(self, layout: ReplicaLayout, *, rate_per_s: float, replicas: int = 1) -> _Run:
        """Returns the simulation at `rate_per_s` over `replicas`, lengthened until it reaches a steady state.

        A run shows a steady state only when it holds many times the requests in the system (Little's
        law: rate x mean end-to-end latency); shorter, a burst fits in one batch and looks served. The run
        is lengthened to RUN_TURNOVERS times that, at most MAX_PROBE_REQUESTS per replica.
        """
        s = self.setting
        per_replica = rate_per_s / replicas
        requests = s.requests
        while True:
            result = self._simulate(layout, rate_per_s=rate_per_s, replicas=replicas, requests=requests)
            failure = self.failure(result, layout, per_replica, requests)
            if failure is not None:
                return _Run(result=result, requests=requests, failure=failure)
            in_system = per_replica * result.e2e_latency_ms.mean / 1e3
            needed = math.ceil(RUN_TURNOVERS * in_system)
            if requests >= needed:
                return _Run(result=result, requests=requests, failure=None)
            if requests >= MAX_PROBE_REQUESTS:
                return _Run(result=result, requests=requests,
                            failure=f"{requests} requests per replica are too few to reach a steady state at "
                                    f"{per_replica:.4g} requests/s per replica ({in_system:.0f} in the system)")
            # Half as much again: the system holds more once the run is longer, and one rerun should do.
            requests = min(math.ceil(1.5 * needed), MAX_PROBE_REQUESTS)

    def one_replica(self, layout: ReplicaLayout, units: int) -> _Run:
        key = (layout.tp, layout.pp, units)
        if key not in self.cache:
            self.cache[key] = self.run(layout, rate_per_s=units / RATE_SCALE)
        return self.cache[key]

    def failure(self, result: ServingResult, layout: ReplicaLayout, rate_per_replica_s: float,
                requests: int) -> str | None:
        """Returns None when the replicas keep up (`keep_up_failure`) and meet the SLO percentiles, else what broke."""
        s = self.setting
        failure = slo_failure(result, ttft_ms=s.ttft_ms, tpot_ms=s.tpot_ms, percentile=s.percentile)
        if failure is not None:
            return failure
        return self.keep_up_failure(result, layout, rate_per_replica_s, requests)

    def keep_up_failure(self, result: ServingResult, layout: ReplicaLayout, rate_per_replica_s: float,
                        requests: int) -> str | None:
        """Returns None when the replicas keep up with the rate, else why not.

        Two tests: the simulator's overload test, and the drain test: a queue that a short run does not show
        growing is caught by the time the replica needs after its last arrival: more than 5% of the arrival
        span (the simulator's OVERLOAD_SLOPE) plus one full-batch request's latency means it served under ~95%
        of the rate.
        """
        from cost_models.serving.metrics import OVERLOAD_SLOPE

        if result.overloaded:
            return "overloaded (the waiting queue grows without bound)"
        span = last_arrival_s(self.setting, rate_per_replica_s, requests)
        drain = result.simulated_s - span
        allowance = OVERLOAD_SLOPE * span + self.figures(layout).full_batch_e2e_s
        if drain > allowance:
            return (f"overloaded (the last request finishes {drain:.3g} s after the last arrival, more than "
                    f"{allowance:.3g} s)")
        return None

    def fails(self, layout: ReplicaLayout, units: int) -> str | None:
        return self.one_replica(layout, units).failure

    def check(self, layout: ReplicaLayout, *, replicas: int, rate_per_s: float) -> ServingCheck:
        if replicas < 1:
            return ServingCheck(replicas=0, rate_per_s=rate_per_s, result=None, failure="zero replicas serve nothing")
        done = self.run(layout, rate_per_s=rate_per_s, replicas=replicas)
        return ServingCheck(replicas=replicas, rate_per_s=rate_per_s, result=done.result, failure=done.failure,
                            requests_per_replica=done.requests)


def layout_capacity(sims: Simulations, layout: ReplicaLayout) -> LayoutCapacity:
    """Returns the highest rate one replica of `layout` serves within the SLOs, by bisection (module doc, 3)."""
    count = 0

    def fails(units: int) -> str | None:
        nonlocal count
        count += 1 if (layout.tp, layout.pp, units) not in sims.cache else 0
        return sims.fails(layout, units)

    bound = 0.0
    try:
        bound = sims.figures(layout).rate_per_s
        hi = max(int(math.ceil(bound * RATE_SCALE)), 1)
        lo = 0
        doublings = 0
        while fails(hi) is None:  # the bound served: it was not an upper bound, go up
            lo = hi
            if doublings == MAX_DOUBLINGS:
                return LayoutCapacity(layout=layout, rate_units=lo, bound_rate_per_s=bound, simulations=count)
            hi *= 2
            doublings += 1
        if lo == 0:
            floor = fails(1)  # the lowest rate of the grid: a layout that misses the SLOs unloaded is out at once
            if floor is not None:
                return LayoutCapacity(layout=layout, rate_units=0, bound_rate_per_s=bound, simulations=count,
                                      reason=f"{floor} even at {1 / RATE_SCALE:g} requests/s")
            probe, last = hi // 2, fails(hi)  # cached: the reason at the lowest failing rate so far
            while probe >= 1:
                last = fails(probe)
                if last is None:
                    break
                hi, probe = probe, probe // 2
            if probe < 1:
                return LayoutCapacity(layout=layout, rate_units=0, bound_rate_per_s=bound, simulations=count,
                                      reason=f"{last} even at {hi / RATE_SCALE:g} requests/s")
            lo = probe
        while hi - lo > max(1, int(lo * BISECTION_TOLERANCE)):
            mid = (lo + hi) // 2
            if fails(mid) is None:
                lo = mid
            else:
                hi = mid
    except InfeasibleError as error:  # one request does not fit the replica's KV cache or buckets
        return LayoutCapacity(layout=layout, rate_units=0, bound_rate_per_s=bound, simulations=count,
                              reason=str(error))
    return LayoutCapacity(layout=layout, rate_units=lo, bound_rate_per_s=bound, simulations=count)


@dataclass(frozen=True, kw_only=True)
class CapacityTask:
    """One layout's bisection: everything a worker process (or Ray task) needs to simulate it (all picklable)."""

    setting: SimulationSetting
    layout: ReplicaLayout


def capacity_of(task: CapacityTask) -> LayoutCapacity:
    """Returns `layout_capacity` of one task with simulations cached in this call (top-level, for workers).

    The bisections of different layouts share no simulation (the cache is per layout), so one cache
    per task gives the counts and capacities of one cache for the whole plan.
    """
    return layout_capacity(Simulations(task.setting), task.layout)


# --- choosing replicas (CP-SAT) -----------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Choice:
    """The CP-SAT answer: status, the layout chosen (index into the options) and its replicas."""

    status: str
    index: int | None = None
    replicas: int = 0


def choose_replicas(options: Sequence[LayoutCapacity], *, max_cards: int, rate_units: int | None = None,
                    cards: int | None = None) -> Choice:
    """Returns the layout and replica count: with `rate_units`, the fewest devices serving it within `max_cards`
    (ties: fewer replicas, then more rate served, then the first layout); with `cards`, the most rate served on
    at most `cards` devices (ties: fewer devices, fewer replicas, the first layout)."""
    limit = max_cards if cards is None else cards
    model = cp_model.CpModel()
    # Variables.
    use, groups, replicas = [], [], []
    for k, option in enumerate(options):
        lay = option.layout
        most_groups = limit // lay.devices_per_group
        use.append(model.new_bool_var(f"use_tp{lay.tp}_pp{lay.pp}"))
        groups.append(model.new_int_var(0, most_groups, f"groups_tp{lay.tp}_pp{lay.pp}"))
        replicas.append(model.new_int_var(0, most_groups * lay.replicas_per_group, f"replicas_tp{lay.tp}_pp{lay.pp}"))
    # Constraints: one layout; its replicas fill whole device groups (no empty group); devices within the limit.
    if use:
        model.add_exactly_one(use)
    else:
        model.add_bool_or([])  # no layout: infeasible, as it should be
    for k, option in enumerate(options):
        g = option.layout.replicas_per_group
        model.add(groups[k] <= (limit // option.layout.devices_per_group) * use[k])
        model.add(replicas[k] >= use[k])
        model.add(replicas[k] <= g * groups[k])
        model.add(g * groups[k] <= replicas[k] + g - 1)
    devices = sum(o.layout.devices_per_group * groups[k] for k, o in enumerate(options))
    served = sum(o.rate_units * replicas[k] for k, o in enumerate(options))
    total_replicas = sum(replicas)
    first = sum(k * use[k] for k in range(len(options)))
    model.add(devices <= limit)
    if rate_units is not None:
        model.add(served >= rate_units)
        levels = ((devices, False), (total_replicas, False), (served, True), (first, False))
    else:
        levels = ((served, True), (devices, False), (total_replicas, False), (first, False))
    # Objective, level by level (each optimum fixed before the next).
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1  # deterministic, and these models solve in milliseconds
    solver.parameters.random_seed = 0
    for expr, maximize in levels:
        if maximize:
            model.maximize(expr)
        else:
            model.minimize(expr)
        status = solver.solve(model)
        if status == cp_model.INFEASIBLE or status == cp_model.MODEL_INVALID:
            return Choice(status=INFEASIBLE)
        if status != cp_model.OPTIMAL:
            raise RuntimeError(f"CP-SAT returned {solver.status_name(status)} on a model without a time limit")
        model.add(expr == int(round(solver.objective_value)))
    index = next(k for k in range(len(options)) if solver.boolean_value(use[k]))
    return Choice(status=OPTIMAL, index=index, replicas=int(solver.value(replicas[index])))


def capacity_table(capacities: Sequence[LayoutCapacity], up_to_cards: int) -> tuple[CapacityPoint, ...]:
    """Returns, for device counts 1..up_to_cards where it rises, the highest rate served within the SLOs.

    The same model as `choose_replicas(cards=N)` (one layout, whole device groups), in closed form.
    """
    live = [c for c in capacities if c.rate_units > 0]
    points: list[CapacityPoint] = []
    best_units = 0
    for n in range(1, up_to_cards + 1):
        top = None
        for c in live:
            count = (n // c.layout.devices_per_group) * c.layout.replicas_per_group
            units = count * c.rate_units
            if count and (top is None or units > top[0]):
                top = (units, c, count)
        if top is not None and top[0] > best_units:
            best_units = top[0]
            lay = top[1].layout
            points.append(CapacityPoint(cards=n, rate_served=top[0] / RATE_SCALE, tp=lay.tp, pp=lay.pp,
                                        replicas=top[2], ep=lay.ep, adp=lay.adp))
    if len(points) > MAX_CAPACITY_ROWS:
        step = math.ceil(len(points) / (MAX_CAPACITY_ROWS - 1))
        points = points[::step] + ([points[-1]] if (len(points) - 1) % step else [])
    return tuple(points)


# --- the API ------------------------------------------------------------------------------------------------

def plan(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
         rate: float | None = None, cards: int | None = None, token_rate: float | None = None,
         slo_percentile: int = 90,
         max_cards: int | None = None, seed: int = 0, requests: int = DEFAULT_REQUESTS,
         lengths_file: str | os.PathLike | None = None, engine: str | None = None, release: str | None = None,
         space: SearchSpace | str | None = None, params: CostParams | None = None, jobs: int = 1,
         ray_address: str | None = None, mode: str | None = None) -> PlanResult:
    """Returns the plan: with `rate` (requests/s), the fewest devices and the layout serving it within the SLO
    percentiles; with `cards`, the highest rate those devices serve; the capacity table either way.

    `token_rate` (output tokens/s) stands for `rate` = token_rate / the mean output length.
    SLOs are the workload's `ttft_ms` and `tpot_ms`, bounding the `slo_percentile` (50, 90 or 99) of
    the simulated requests; arrivals are Poisson for `seed`. `lengths_file` (CSV or JSONL sample
    or histogram of input_len, output_len) replaces the workload's fixed lengths. The layouts' capacities
    are found in `jobs` processes, or on the Ray cluster at `ray_address` (`fanout.fan_out`), with the
    serial answer.

    `mode` (with `rate`): 'agg', 'disagg' or 'both' (`solver.disagg_answers.plan_modes`): the disaggregated
    deployment with the fewest devices is searched beside the aggregated plan, and the result says which
    serves the rate on fewer devices; None: 'both' where the engine runs disaggregation, else 'agg'.
    """
    import cost_models
    from autotune.specs.inputs import as_hardware, as_model, as_space
    from cost_models.serving.engines import default_engine, load_engine
    from cost_models.serving.traffic import fixed_lengths, is_trace_file, load_lengths

    spec, device = as_model(model), as_hardware(hardware)
    if token_rate is not None and rate is not None:
        raise InputError(source="--token-rate", value=token_rate, expected="no --rate with it (one target rate)")
    most_cards = MAX_FLEET_UNITS // device.compute_units_per_device
    if token_rate is not None:
        if isinstance(token_rate, bool) or not isinstance(token_rate, (int, float)) or not token_rate > 0 \
                or not math.isfinite(token_rate):
            raise InputError(source="--token-rate", value=token_rate, expected="a finite number of output tokens/s > 0")
    _check_inputs(rate=rate if token_rate is None else 1.0, cards=cards, slo_percentile=slo_percentile,
                  requests=requests, seed=seed, max_cards=max_cards, most_cards=most_cards)
    check_fan_out(jobs=jobs, ray_address=ray_address)
    from autotune.solver.disagg_answers import check_mode_needs_rate
    check_mode_needs_rate(mode, rate if token_rate is None else token_rate)
    if max_cards is None:
        max_cards = most_cards if cards is None else cards
    search_space = as_space(space, device)
    if workload is None:
        from autotune.specs.inputs import default_workload
        workload = default_workload(spec, search_space)
    lengths = fixed_lengths(workload.input_len, workload.output_len)
    lengths_text = f"fixed {workload.input_len} in / {workload.output_len} out"
    if lengths_file is not None:
        if is_trace_file(lengths_file):
            raise InputError(source=str(lengths_file), value=None, has_value=False,
                             expected="a sample of input_len, output_len (plan draws Poisson arrivals; a trace's "
                                      "timestamps are not used)")
        lengths = load_lengths(lengths_file)
        mean_in, mean_out = mean_lengths(lengths)
        workload = dataclasses.replace(workload, input_len=mean_in, output_len=mean_out)
        lengths_text = f"sample {os.fspath(lengths_file)} (means {mean_in} in / {mean_out} out)"
    if token_rate is not None:
        rate = float(token_rate) / lengths.means()[1]
        _check_inputs(rate=rate, cards=cards, slo_percentile=slo_percentile, requests=requests, seed=seed,
                      max_cards=max_cards, most_cards=most_cards)
    params = cost_models.load_params() if params is None else params
    profile = load_engine(engine or default_engine(device), device, release)
    layouts, why_none = replica_layouts(spec, device, search_space, workload, params=params,
                                        per_rank_limits=profile.limits_per_attention_dp_rank)
    assumptions = PlanAssumptions(
        model=spec.name, hardware=device.name, space=search_space.name, engine=profile.engine,
        release=profile.release, dtype=workload.dtype, kv_dtype=workload.cache_dtype, input_len=workload.input_len,
        output_len=workload.output_len, lengths=lengths_text, ttft_ms=workload.ttft_ms, tpot_ms=workload.tpot_ms,
        slo_percentile=slo_percentile, arrival="poisson", requests_per_simulation=requests, seed=seed,
        max_cards=max_cards, device_name=device.device_name, unit_name=device.unit_name,
        devices_per_node=device.devices_per_node)
    base = {"rate": None if rate is None else float(rate), "cards": cards, "assumptions": assumptions}
    if not layouts:
        return PlanResult(status=INFEASIBLE, recommendations=(), capacity=(), layouts=(), reasons=(why_none,), **base)
    setting = SimulationSetting(model=spec, hardware=device, dtype=workload.dtype, kv_dtype=workload.cache_dtype,
                       engine=profile, lengths=lengths, params=params, ttft_ms=workload.ttft_ms,
                       tpot_ms=workload.tpot_ms, percentile=slo_percentile, requests=requests, seed=seed)
    capacities = tuple(fan_out(capacity_of, [CapacityTask(setting=setting, layout=layout) for layout in layouts],
                               jobs=jobs, ray_address=ray_address))
    sims = Simulations(setting)
    options = [c for c in capacities if c.rate_units > 0]
    if not options:
        reasons = tuple(f"{c.layout.label}: {c.reason}" for c in capacities)
        return PlanResult(status=INFEASIBLE, recommendations=(), capacity=(), layouts=capacities,
                          reasons=("no replica layout meets the SLOs at any rate",) + reasons, **base)
    if cards is not None:
        return _plan_cards(sims, capacities, options, cards=cards, base=base)
    result = _plan_rate(sims, capacities, options, rate=float(rate), max_cards=max_cards, base=base)
    return _with_modes(result, mode=mode, setting=setting, space=search_space, workload=workload,
                       lengths_text=lengths_text)


def _with_modes(result: PlanResult, *, mode: str | None, setting: SimulationSetting, space: SearchSpace,
                workload: Workload, lengths_text: str) -> PlanResult:
    """Returns the plan with the disaggregated comparison of `mode` (none for 'agg')."""
    from autotune.solver.disagg_answers import plan_modes

    return plan_modes(result, mode=mode, setting=setting, space=space, workload=workload, lengths_text=lengths_text)


def _recommendation(layout: ReplicaLayout, replicas: int, *, rate_served: float, check: ServingCheck,
                    fewer: ServingCheck) -> PlanRecommendation:
    return PlanRecommendation(layout=layout, replicas=replicas, cards_used=layout.devices(replicas),
                              pes_used=layout.tp * layout.pp * replicas, rate_served=rate_served, check=check,
                              fewer=fewer)


def _plan_rate(sims: Simulations, capacities: tuple[LayoutCapacity, ...], options: list[LayoutCapacity], *,
               rate: float, max_cards: int, base: dict[str, Any]) -> PlanResult:
    rate_units = int(math.ceil(rate * RATE_SCALE - 1e-9))
    word = base["assumptions"].device_name
    choice = choose_replicas(options, max_cards=max_cards, rate_units=rate_units)
    if choice.index is None:
        needed = min(o.layout.devices(-(-rate_units // o.rate_units)) for o in options)
        table = capacity_table(capacities, max_cards)
        most = table[-1].rate_served if table else 0.0
        reason = (f"serving {rate:g} requests/s within the SLOs needs {needed} {word}s, more than --max-cards "
                  f"{max_cards} (which serve at most {most:g} requests/s)")
        return PlanResult(status=INFEASIBLE, recommendations=(), capacity=table, layouts=capacities,
                          reasons=(reason,), **base)
    option = options[choice.index]
    layout, n = option.layout, choice.replicas
    notes = []
    check = sims.check(layout, replicas=n, rate_per_s=rate)
    while not check.meets_slos and layout.devices(n + 1) <= max_cards:
        notes.append(f"{n} replicas of {layout.label} miss the SLOs at {rate:g} requests/s in the check "
                     f"({check.failure}); took {n + 1}")
        n += 1
        check = sims.check(layout, replicas=n, rate_per_s=rate)
    if not check.meets_slos:
        return PlanResult(status=INFEASIBLE, recommendations=(), capacity=capacity_table(capacities, max_cards),
                          layouts=capacities, reasons=(f"{n} replica(s) of {layout.label} ({layout.devices(n)} {word}(s)) "
                                                       f"miss the SLOs at {rate:g} requests/s: {check.failure}",),
                          notes=tuple(notes), **base)
    fewer = sims.check(layout, replicas=n - 1, rate_per_s=rate)
    while fewer.meets_slos:
        notes.append(f"{n - 1} replicas of {layout.label} also serve {rate:g} requests/s in the check (the "
                     f"bisection stops within {BISECTION_TOLERANCE:.0%}); took {n - 1}")
        n, check = n - 1, fewer
        fewer = sims.check(layout, replicas=n - 1, rate_per_s=rate)
    served = max(n * option.rate_units / RATE_SCALE, rate)
    rec = _recommendation(layout, n, rate_served=served, check=check, fewer=fewer)
    table = capacity_table(capacities, max(rec.cards_used, base["assumptions"].devices_per_node))
    return PlanResult(status=OPTIMAL, recommendations=(rec,), capacity=table, layouts=capacities,
                      notes=tuple(notes), **base)


def _plan_cards(sims: Simulations, capacities: tuple[LayoutCapacity, ...], options: list[LayoutCapacity], *,
                cards: int, base: dict[str, Any]) -> PlanResult:
    word = base["assumptions"].device_name
    choice = choose_replicas(options, max_cards=cards, cards=cards)
    table = capacity_table(capacities, cards)
    if choice.index is None:
        smallest = min(o.layout.devices_per_group for o in options)
        return PlanResult(status=INFEASIBLE, recommendations=(), capacity=table, layouts=capacities,
                          reasons=(f"the smallest layout that meets the SLOs needs {smallest} {word}s, more than "
                                   f"--cards {cards}",), **base)
    option = options[choice.index]
    layout, n = option.layout, choice.replicas
    served = n * option.rate_units / RATE_SCALE
    check = sims.check(layout, replicas=n, rate_per_s=served)
    fewer = sims.check(layout, replicas=n - 1, rate_per_s=served)
    notes = []
    if not check.meets_slos:
        notes.append(f"the check at {served:g} requests/s over {n} replicas misses the SLOs ({check.failure}) "
                     f"though one replica meets them at {option.rate_per_s:g} requests/s")
    rec = _recommendation(layout, n, rate_served=served, check=check, fewer=fewer)
    return PlanResult(status=OPTIMAL, recommendations=(rec,), capacity=table, layouts=capacities,
                      notes=tuple(notes), **base)
