"""Choose a disaggregated deployment: one prefill layout and one decode layout, x and y replicas of them, within
the fleet, serving an open-loop rate within the SLO percentiles; every answer checked in the simulator.

Decisions: the prefill layout (TP, PP, and for an MoE model EP and attention DP) and its replica count x, the
decode layout and its count y. Layouts are the layouts of ONE replica the space allows on the fleet
(`under_load.layouts_of`, DP 1, an MoE model's expert and attention data parallel ones included, as the
aggregated search runs them); on Furiosa LLM only PP 1 (the 2026.4 rule,
`cost_models.serving.disagg.check_disaggregation`). Each pool runs the engine profile's default limits
(max_num_seqs, token budget): the pool's batch limit is not searched here.

1. Coefficients (`DisaggEvaluator.coefficient`), per layout and pool, at the rate R: the fewest replicas n
   such that ONE replica keeps up with R / n and meets its share of the SLOs (doubling n, then bisection;
   one replica serving a rate serves every lower one, the assumption the plan's bisection makes):
   - prefill: prefill-only requests (output 1, as vLLM's proxy sends them), the TTFT percentile within the
     TTFT SLO minus the KV transfer of the longest prompt over the fleet's link (`transfer_link` at the whole
     fleet: the slower one when the fleet spans machines) with the fewest parallel streams any pairing has;
   - decode: requests that arrive prefilled (`simulate_replica(prefilled=...)`), the TPOT percentile within
     the TPOT SLO.
   Keeping up: the simulator's overload tests and the plan's drain test, on runs lengthened until they hold
   RUN_TURNOVERS times the requests in the system (`planning.Simulations.run`).
2. The admitted deployments (the capacity model): x >= n(prefill layout), y >= n(decode layout) and
   devices(prefill, x) + devices(decode, y) <= the fleet. CP-SAT (`choose`): per pool and layout an integer
   replica count, an integer count of device groups (packed replicas share a device, as
   `planning.choose_replicas` counts them) and one Boolean selector; exactly one layout per pool is nonzero.
   Nothing is enumerated per (prefill, decode) combination. It returns the admitted deployment with the
   fewest devices (ties: fewer replicas, then the earlier layouts in (TP, PP) order, prefill first) that no
   cut excludes.
3. Verification (`DisaggEvaluator.verify`): the deployment is simulated whole at R (`simulate_disaggregated`:
   TTFT includes the KV transfer and the wait for a decode slot), lengthened as in step 1; it must keep up and
   meet the SLO percentiles. Verified or not, a no-good cut excludes exactly that (prefill layout, x, decode
   layout, y) and CP-SAT solves again: a lazy-constraint loop.
4. Objectives (throughput and goodput; `disagg_key` begins as `under_load.objective_key` does, so the two
   modes compare on one scale): throughput at a rate is R x mean output / devices, so the fewest devices wins,
   then the lower TPOT percentile; goodput is R x the share of requests within every SLO / devices, bounded by
   R / devices. The loop stops when the next deployment's bound (R x per-request value / its devices) is worse
   than the k-th best verified key (an equal bound is still visited, for the tie-breaks).
5. Coefficients level by level (`search`): layouts are taken in rising devices per replica; a deployment with
   a layout of s devices takes at least s + the smallest layout's devices, so once that bound cannot enter
   the top, the larger layouts are never simulated.

Each pool runs the engine profile's default limits (max_num_seqs, token budget, as `simulate_disaggregated`
takes one setting for both pools): the pools' batch limits are not searched here.

Exactness: the answer is the best, by `disagg_key`, of the admitted deployments that pass the verification,
and never an unverified one. Each solve returns the uncut admitted deployment with the fewest devices, so
deployments are visited in nondecreasing devices and each visited one is verified; a deployment's key is
bounded by its devices (step 4), so when the loop stops no unvisited deployment on the layouts priced can
enter the top k, and none on a layout not priced can either (step 5). A deployment the capacity model does
not admit is not searched even if it would pass the verification (round-robin dealing smooths each
replica's arrivals a little): the coefficients are the model. `tests/property/test_disagg_vs_brute_force.py`
checks the answer against a brute force over every (prefill layout, x, decode layout, y) within the fleet
with the same coefficients and verification.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

from autotune.errors import InfeasibleError, InputError
from autotune.solver.formulation import FEASIBLE, INFEASIBLE, OPTIMAL
from autotune.solver.planning import (MAX_PROBE_REQUESTS, RUN_TURNOVERS, ReplicaLayout, SimulationSetting,
                                      Simulations, SteadyFigures, last_arrival_s, mean_lengths, slo_failure)
from autotune.solver.request import Request
from autotune.solver.under_load import Load, goodput_per_s, layouts_of, percentile_ms
from autotune.specs.hardware import counted

if TYPE_CHECKING:
    from cost_models.serving.engines import EngineProfile
    from cost_models.serving.metrics import Distribution, ServingResult

#: Objectives the disaggregated search answers (module docstring, step 4): the ones a rate and a fleet define.
DISAGG_OBJECTIVES = ("throughput", "goodput")
#: Most deployments verified in one search; beyond it the answer is FEASIBLE (the best verified, not proven).
MAX_VERIFICATIONS = 64
#: Modes of recommend, pareto, sweep and plan under a rate.
MODES = ("agg", "disagg", "both")


@dataclass(frozen=True, kw_only=True)
class PoolCapacity:
    """One layout's coefficient in one pool at the rate: the fewest replicas of it that serve the rate, each one
    meeting its share of the SLOs at rate / replicas."""

    role: str
    """'prefill' or 'decode'."""
    layout: ReplicaLayout
    replicas_needed: int
    """n: one replica serves rate / n within its share of the SLOs and, with n > 1, not rate / (n - 1);
    0: not even with as many replicas as the fleet holds."""
    rate_per_s: float
    """The rate one replica was shown to serve: rate / n (0 when n is 0)."""
    simulations: int
    reason: str | None = None
    """Why n is 0: what one replica broke at the lowest rate tried."""


@dataclass(frozen=True, kw_only=True)
class Deployment:
    """x prefill replicas of one layout and y decode replicas of another."""

    prefill: ReplicaLayout
    prefill_replicas: int
    decode: ReplicaLayout
    decode_replicas: int

    @property
    def devices(self) -> int:
        return self.prefill.devices(self.prefill_replicas) + self.decode.devices(self.decode_replicas)

    @property
    def replicas(self) -> int:
        return self.prefill_replicas + self.decode_replicas

    @property
    def key(self) -> tuple[int, ...]:
        return (*self.prefill.shape, self.prefill_replicas, *self.decode.shape, self.decode_replicas)

    @property
    def label(self) -> str:
        return (f"prefill {self.prefill_replicas} x ({self.prefill.label}) + decode "
                f"{self.decode_replicas} x ({self.decode.label})")


@dataclass(frozen=True, kw_only=True)
class DisaggOutcome:
    """One deployment simulated at the rate, and whether it serves it within the SLOs."""

    deployment: Deployment
    result: ServingResult
    failure: str | None
    """None: keeps up and meets the SLO percentiles; else what broke."""
    requests: int
    """Requests simulated (all pools)."""
    ttft_ms: float
    tpot_ms: float


@dataclass(frozen=True, kw_only=True)
class DisaggAnswer:
    """The best verified deployments, best first, and what the search did."""

    status: str
    best: tuple[DisaggOutcome, ...]
    capacities: tuple[PoolCapacity, ...]
    verified: tuple[DisaggOutcome, ...]
    """Every deployment simulated, in the order the loop visited them (passed or not)."""
    solves: int
    """CP-SAT solves (each with its cuts)."""
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def simulations(self) -> int:
        return sum(c.simulations for c in self.capacities) + len(self.verified)


def disagg_unavailable(request: Request, engine: EngineProfile) -> str | None:
    """Returns None when the space and engine run prefill/decode disaggregation, else why not, in words."""
    from cost_models.serving.disagg import FURIOSA_DISAGG_RELEASE

    if engine.engine != "furiosa-llm":
        return None  # vLLM, SGLang, TensorRT-LLM: every profiled release (disagg.check_disaggregation)
    release = _release_tuple(request.space.release)
    if release < FURIOSA_DISAGG_RELEASE:
        return (f"Furiosa LLM {request.space.release or 'of space ' + request.space.name} has no prefill/decode "
                f"disaggregation (from 2026.4, at PP 1: furiosa-llm.md section 2); use --space furiosa-2026.4")
    return None


def _release_tuple(text: str | None) -> tuple[int, int]:
    try:
        return tuple(int(part) for part in str(text).split(".")[:2])  # type: ignore[return-value]
    except ValueError:
        return (0, 0)


def disagg_engine(request: Request, engine: EngineProfile) -> tuple[EngineProfile, tuple[str, ...]]:
    """Returns the engine profile the pools are simulated with, and a note when it stands in for another release.

    Furiosa LLM 2026.4 (the first release with disaggregation) has no scheduler profile in
    cost_models/serving/engines/furiosa-llm.yaml: the newest profiled release's limits and buckets stand in,
    under the space's release name (which `check_disaggregation` reads).
    """
    if engine.engine != "furiosa-llm" or _release_tuple(engine.release) >= _release_tuple(request.space.release):
        return engine, ()
    note = (f"Furiosa LLM {request.space.release} has no scheduler profile: the {engine.release} profile's limits "
            f"and buckets stand in for both pools")
    return dataclasses.replace(engine, release=str(request.space.release)), (note,)


def pool_layouts(request: Request) -> tuple[ReplicaLayout, ...]:
    """Returns the layouts of one replica the space allows on the fleet, in (TP, PP, EP, ADP) order (an MoE
    model's expert and attention data parallel ones too, as the aggregated search runs them), with how replicas
    pack on a device and the engine profile's default max_num_seqs filled in later (0 here).

    A layout smaller than a device packs units // TP replicas on it when the space holds that many on one device
    (the aggregated layout with that DP fits), as `planning.replica_layouts` packs them.
    """
    layouts = layouts_of(request, moe=True)
    keys = {lay.key for lay in layouts}
    upd = request.hardware.compute_units_per_device
    furiosa = request.space.runtime == "furiosa"
    out = []
    for lay in layouts:
        if lay.dp != 1 or (furiosa and lay.pp != 1):
            continue
        group = upd // lay.tp if lay.tp < upd else 1
        if group > 1 and (lay.tp, lay.pp, group, lay.ep, lay.adp) not in keys:
            group = 1
        out.append(ReplicaLayout(tp=lay.tp, pp=lay.pp, devices_per_group=lay.devices, replicas_per_group=group,
                                 max_num_seqs=0, ep=lay.ep, adp=lay.adp))
    return tuple(out)


# --- capacity coefficients ----------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class _PoolRun:
    """The figures of a one-pool run that the plan's keep-up and SLO tests read (a ServingResult's names)."""

    overloaded: bool
    ttft_ms: Distribution
    """Prefill pool: time to the first token; decode pool: the wait for a decode slot."""
    tpot_ms: Distribution
    e2e_latency_ms: Distribution
    simulated_s: float


class _PoolSimulations(Simulations):
    """The plan's simulations of one replica of one pool: prefill-only requests (output 1, no TPOT) or requests
    that arrive prefilled (the decode pool's work). Step pricers are built once per layout and shared."""

    def __init__(self, setting: SimulationSetting, *, role: str,
                 pricers: dict[tuple[int, int, int], tuple]) -> None:
        super().__init__(setting)
        self.role = role
        self.pricers = pricers

    def prepared(self, layout: ReplicaLayout) -> tuple:
        """Returns the (step pricer, engine limits) of one replica of `layout`, built once."""
        from cost_models.serving.simulator import prepare_replica

        key = (*layout.shape, layout.max_num_seqs)
        if key not in self.pricers:
            s = self.setting
            self.pricers[key] = prepare_replica(s.model, s.hardware, dtype=s.dtype, kv_dtype=s.kv_dtype, tp=layout.tp,
                                                pp=layout.pp, engine=s.engine, params=s.params,
                                                max_num_seqs=layout.max_num_seqs, ep=layout.ep, adp=layout.adp)
        return self.pricers[key]

    def figures(self, layout: ReplicaLayout) -> SteadyFigures:
        """Returns `planning.steady_figures` of the whole request (the bracket and the drain allowance)."""
        from cost_models.serving.steady import closed_loop_steady_state

        key = (*layout.shape, layout.max_num_seqs)
        if key not in self.steady:
            pricer, limits = self.prepared(layout)
            mean_in, mean_out = mean_lengths(self.setting.lengths)
            steady = closed_loop_steady_state(pricer, limits, concurrency=limits.max_num_seqs, input_len=mean_in,
                                              output_len=mean_out)
            rate = steady.output_tokens_per_s / mean_out
            e2e = steady.ttft_s + (mean_out - 1) * steady.tpot_s
            self.steady[key] = SteadyFigures(rate_per_s=rate if math.isfinite(rate) and rate > 0 else 1.0,
                                             full_batch_e2e_s=e2e if math.isfinite(e2e) and e2e > 0 else 0.0)
        return self.steady[key]

    def _simulate(self, layout: ReplicaLayout, *, rate_per_s: float, replicas: int, requests: int) -> _PoolRun:
        from cost_models.serving.disagg import decode_overloaded
        from cost_models.serving.metrics import distribution_ms, summarize_replica
        from cost_models.serving.scheduler import simulate_replica
        from cost_models.serving.simulator import check_fits
        from cost_models.serving.traffic import Traffic, open_arrivals_s

        s = self.setting
        pricer, limits = self.prepared(layout)
        lengths = s.lengths
        decode = self.role == "decode"
        longest = max(i + o for i, o in zip(lengths.input_len, lengths.output_len))
        check_fits(pricer, limits, s.engine, longest, decodes=decode,
                   what=f"a {self.role} replica ({layout.label})")
        # The draws of `simulate_layout` and `planning.last_arrival_s`: lengths first, then the arrivals.
        rng = np.random.default_rng(s.seed)
        inputs, outputs = lengths.sample(requests, rng)
        arrival = open_arrivals_s(Traffic(requests=requests, lengths=lengths, rate_per_s=rate_per_s, seed=s.seed), rng)
        traj = simulate_replica(pricer, limits, input_len=np.asarray(inputs, np.int64),
                                output_len=np.asarray(outputs, np.int64), arrival_s=arrival,
                                prefilled=np.ones(requests, dtype=bool) if decode else None)
        summary = summarize_replica(traj, concurrency=None)
        overloaded = summary.overloaded or (decode and decode_overloaded([traj]))
        return _PoolRun(overloaded=bool(overloaded), ttft_ms=distribution_ms(summary.ttft_s),
                        tpot_ms=distribution_ms(summary.tpot_s), e2e_latency_ms=distribution_ms(summary.e2e_s),
                        simulated_s=float(np.nanmax(traj.finish_s)))


class DisaggEvaluator:
    """Capacity coefficients and verifications of one disaggregated search (cached)."""

    def __init__(self, request: Request, load: Load) -> None:
        if load.rate_per_s is None:
            raise InputError(source="--mode", value="disagg", expected="--rate (open loop) with it: disaggregated "
                                                                       "serving is simulated under a rate only")
        import cost_models
        from cost_models.serving.traffic import Lengths

        self.request, self.load = request, load
        self.engine, self.notes = disagg_engine(request, load.engine)
        w = request.workload
        params = cost_models.load_params() if request.params is None else request.params
        self.params = params
        self.layouts = tuple(dataclasses.replace(lay, max_num_seqs=self._default_seqs(lay.adp))
                             for lay in pool_layouts(request))
        self.setting = SimulationSetting(model=request.model, hardware=request.hardware, dtype=w.dtype,
                                         kv_dtype=w.cache_dtype, engine=self.engine, lengths=load.lengths,
                                         params=params, ttft_ms=w.ttft_ms, tpot_ms=w.tpot_ms,
                                         percentile=load.percentile, requests=load.requests, seed=load.seed)
        lengths = load.lengths
        self.prefill_lengths = Lengths(input_len=lengths.input_len, output_len=(1,) * len(lengths.input_len),
                                       weight=lengths.weight)
        self.pricers: dict[tuple[int, int, int], tuple] = {}
        self.decode_sims = _PoolSimulations(dataclasses.replace(self.setting, ttft_ms=None), role="decode",
                                            pricers=self.pricers)
        self.whole = _PoolSimulations(self.setting, role="decode", pricers=self.pricers)  # the drain test's figures
        self.outcomes: dict[tuple[int, ...], DisaggOutcome] = {}
        self.coefficients: dict[tuple[str, int, int], PoolCapacity] = {}
        self._prefill: tuple[Simulations | None, str | None] | None = None

    def _default_seqs(self, adp: int) -> int:
        """Returns a replica's max_num_seqs under the engine profile's default flag (`simulator.engine_limits`: times
        the attention-DP ranks where the engine takes it per rank)."""
        from cost_models.serving.simulator import engine_limits

        engine = self.engine
        if engine.buckets is not None:  # as prepare_replica reads them
            engine = dataclasses.replace(engine, buckets=engine.buckets.for_model(self.request.model.model_type))
        return engine_limits(engine, self.params, max_num_seqs=None, max_num_batched_tokens=None, adp=adp)[0]

    def transfer_ms(self) -> float:
        """Returns the KV transfer (ms) of the longest prompt over the fleet's link with the fewest streams any
        pairing of the layouts has: the part of the TTFT SLO the prefill pool cannot use."""
        from cost_models.serving.disagg import kv_streams, kv_transfer_s, transfer_link
        from autotune.specs.dtypes import bytes_per_element

        s, r = self.setting, self.request
        if not self.layouts:
            return 0.0
        pricer, _ = self.decode_sims.prepared(self.layouts[0])
        link, _ = transfer_link(r.hardware, r.cards)
        streams = min(kv_streams(r.model, r.hardware, lay.tp, lay.pp, lay.adp) for lay in self.layouts)
        pair_bytes = r.model.kv_cache_elements_per_token_per_layer * bytes_per_element(s.kv_dtype)
        longest = np.array([max(s.lengths.input_len)])
        return float(kv_transfer_s(longest, attention=pricer.attention, kv_bytes_per_pair=pair_bytes, link=link,
                                   streams=streams)[0]) * 1e3

    def _prefill_sims(self) -> tuple[Simulations | None, str | None]:
        """Returns the prefill-only simulations (TTFT bounded by the prefill share of the SLO), or why none serve."""
        if self._prefill is None:
            s, why, share = self.setting, None, self.setting.ttft_ms
            if s.ttft_ms is not None:
                transfer = self.transfer_ms()
                share = s.ttft_ms - transfer
                if share <= 0:
                    why = f"the KV transfer alone ({transfer:.1f} ms) takes the TTFT SLO ({s.ttft_ms:g} ms)"
            sims = _PoolSimulations(dataclasses.replace(s, lengths=self.prefill_lengths, ttft_ms=share, tpot_ms=None),
                                    role="prefill", pricers=self.pricers)
            self._prefill = (None if why else sims, why)
        return self._prefill

    def coefficient(self, role: str, layout: ReplicaLayout) -> PoolCapacity:
        """Returns the layout's coefficient in the `role` pool at the rate (module docstring, step 1), cached."""
        key = (role, *layout.shape)
        if key not in self.coefficients:
            if role == "prefill":
                sims, why = self._prefill_sims()
            else:
                sims, why = self.decode_sims, None
            if sims is None:
                self.coefficients[key] = PoolCapacity(role=role, layout=layout, replicas_needed=0, rate_per_s=0.0,
                                                      simulations=0, reason=why)
            else:
                self.coefficients[key] = self._replicas_needed(role, sims, layout)
        return self.coefficients[key]

    def _replicas_needed(self, role: str, sims: Simulations, layout: ReplicaLayout) -> PoolCapacity:
        """Returns the fewest replicas n whose rate share rate / n one replica serves: doubling, then bisection
        (one replica serving a rate serves every lower one: the assumption the plan's bisection makes)."""
        rate = float(self.load.rate_per_s)
        most = (self.request.cards // layout.devices_per_group) * layout.replicas_per_group
        runs: dict[int, str | None] = {}

        def fails(n: int) -> str | None:
            if n not in runs:
                runs[n] = sims.run(layout, rate_per_s=rate / n).failure
            return runs[n]

        def capacity(n: int, reason: str | None = None) -> PoolCapacity:
            return PoolCapacity(role=role, layout=layout, replicas_needed=n, rate_per_s=rate / n if n else 0.0,
                                simulations=len(runs), reason=reason)

        try:
            if most < 1:
                return capacity(0, "one replica does not fit the fleet")
            if fails(1) is None:
                return capacity(1)
            lo, hi = 1, min(2, most)
            while hi < most and fails(hi) is not None:
                lo, hi = hi, min(2 * hi, most)
            if fails(hi) is not None:
                return capacity(0, f"{fails(hi)} at {rate / hi:.4g} requests/s per replica ({hi} replicas, the most "
                                   f"the fleet holds)")
            while hi - lo > 1:  # fails(lo), not fails(hi)
                mid = (lo + hi) // 2
                if fails(mid) is None:
                    hi = mid
                else:
                    lo = mid
            return capacity(hi)
        except InfeasibleError as error:  # one request does not fit the replica's KV cache or buckets
            return capacity(0, str(error))

    def verify(self, deployment: Deployment) -> DisaggOutcome:
        """Returns the deployment simulated whole at the rate (module docstring, step 3), cached."""
        if deployment.key not in self.outcomes:
            self.outcomes[deployment.key] = self._verify(deployment)
        return self.outcomes[deployment.key]

    def _verify(self, d: Deployment) -> DisaggOutcome:
        from cost_models.serving.disagg import simulate_disaggregated
        from cost_models.serving.metrics import OVERLOAD_SLOPE
        from cost_models.serving.traffic import Traffic

        s, rate = self.setting, float(self.load.rate_per_s)
        widest = max(d.prefill_replicas, d.decode_replicas)
        requests = s.requests * widest
        while True:
            try:
                result = simulate_disaggregated(
                    s.model, s.hardware, dtype=s.dtype, kv_dtype=s.kv_dtype,
                    prefill=(d.prefill.tp, d.prefill.pp, d.prefill_replicas),
                    decode=(d.decode.tp, d.decode.pp, d.decode_replicas), engine=s.engine,
                    traffic=Traffic(requests=requests, lengths=s.lengths, rate_per_s=rate, seed=s.seed),
                    params=s.params, ttft_slo_ms=s.ttft_ms, tpot_slo_ms=s.tpot_ms,
                    prefill_moe=(d.prefill.ep, d.prefill.adp), decode_moe=(d.decode.ep, d.decode.adp))
            except InfeasibleError as error:
                raise InfeasibleError(f"{d.label}: {error}") from None
            failure = slo_failure(result, ttft_ms=s.ttft_ms, tpot_ms=s.tpot_ms, percentile=s.percentile)
            if failure is None:
                # The plan's drain test: finishing long after the last arrival means serving under the rate.
                span = last_arrival_s(s, rate, requests)
                drain = result.simulated_s - span
                allowance = OVERLOAD_SLOPE * span + self.whole.figures(d.decode).full_batch_e2e_s
                if drain > allowance:
                    failure = (f"overloaded (the last request finishes {drain:.3g} s after the last arrival, more "
                               f"than {allowance:.3g} s)")
            if failure is not None:
                break
            needed = math.ceil(RUN_TURNOVERS * rate * result.e2e_latency_ms.mean / 1e3)
            if requests >= needed or requests >= MAX_PROBE_REQUESTS * widest:
                break
            requests = min(math.ceil(1.5 * needed), MAX_PROBE_REQUESTS * widest)
        p = s.percentile
        return DisaggOutcome(deployment=d, result=result, failure=failure, requests=requests,
                             ttft_ms=percentile_ms(result.ttft_ms, p) if failure is None else math.inf,
                             tpot_ms=percentile_ms(result.tpot_ms, p))


# --- the CP-SAT model ---------------------------------------------------------------------------------------

def choose(prefill: Sequence[PoolCapacity], decode: Sequence[PoolCapacity], *, budget: int,
           excluded: Sequence[Deployment] = ()) -> Deployment | None:
    """Returns the admitted deployment with the fewest devices (ties: fewer replicas, then the earlier prefill
    layout, then the earlier decode layout) that is not in `excluded`, or None when none is left.

    Admitted: x >= the prefill layout's replicas_needed, y >= the decode layout's, devices <= `budget`. Only
    layouts with replicas_needed above 0 take part.
    """
    pools = [[c for c in prefill if c.replicas_needed > 0], [c for c in decode if c.replicas_needed > 0]]
    if not pools[0] or not pools[1]:
        return None
    model = cp_model.CpModel()
    # Variables: per pool and layout, a selector, device groups and replicas.
    use: list[list] = [[], []]
    groups: list[list] = [[], []]
    reps: list[list] = [[], []]
    for side, role in enumerate(("prefill", "decode")):
        for c in pools[side]:
            lay = c.layout
            most = budget // lay.devices_per_group
            name = f"{role}_tp{lay.tp}_pp{lay.pp}_ep{lay.ep}_adp{lay.adp}"
            use[side].append(model.new_bool_var(f"use_{name}"))
            groups[side].append(model.new_int_var(0, most, f"groups_{name}"))
            reps[side].append(model.new_int_var(0, most * lay.replicas_per_group, f"replicas_{name}"))
    # Constraints: one layout per pool; replicas fill whole device groups; enough replicas; the fleet.
    for side in (0, 1):
        model.add_exactly_one(use[side])
        for k, c in enumerate(pools[side]):
            g = c.layout.replicas_per_group
            model.add(groups[side][k] <= (budget // c.layout.devices_per_group) * use[side][k])
            model.add(reps[side][k] >= c.replicas_needed * use[side][k])
            model.add(reps[side][k] <= g * groups[side][k])
            model.add(g * groups[side][k] <= reps[side][k] + g - 1)
    devices = sum(c.layout.devices_per_group * groups[side][k] for side in (0, 1) for k, c in enumerate(pools[side]))
    model.add(devices <= budget)
    index = {(side, *c.layout.shape): k for side in (0, 1) for k, c in enumerate(pools[side])}
    for n, cut in enumerate(excluded):  # no-good: not (this prefill layout with x replicas and this decode with y)
        i = index.get((0, *cut.prefill.shape))
        j = index.get((1, *cut.decode.shape))
        if i is None or j is None:
            continue
        differs = []
        for side, var, count in ((0, reps[0][i], cut.prefill_replicas), (1, reps[1][j], cut.decode_replicas)):
            below, above = model.new_bool_var(f"cut{n}_{side}_below"), model.new_bool_var(f"cut{n}_{side}_above")
            model.add(var <= count - 1).only_enforce_if(below)
            model.add(var >= count + 1).only_enforce_if(above)
            differs += [below, above]
        model.add_bool_or([use[0][i].Not(), use[1][j].Not(), *differs])
    levels = (devices, sum(reps[0]) + sum(reps[1]), sum(k * u for k, u in enumerate(use[0])),
              sum(k * u for k, u in enumerate(use[1])))
    # Objective, level by level (each optimum fixed before the next).
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1  # deterministic; these models solve in milliseconds
    solver.parameters.random_seed = 0
    for expr in levels:
        model.minimize(expr)
        status = solver.solve(model)
        if status in (cp_model.INFEASIBLE, cp_model.MODEL_INVALID):
            return None
        if status != cp_model.OPTIMAL:
            raise RuntimeError(f"CP-SAT returned {solver.status_name(status)} on a model without a time limit")
        model.add(expr == int(round(solver.objective_value)))
    i = next(k for k, u in enumerate(use[0]) if solver.boolean_value(u))
    j = next(k for k, u in enumerate(use[1]) if solver.boolean_value(u))
    return Deployment(prefill=pools[0][i].layout, prefill_replicas=int(solver.value(reps[0][i])),
                      decode=pools[1][j].layout, decode_replicas=int(solver.value(reps[1][j])))


def admitted(prefill: PoolCapacity, x: int, decode: PoolCapacity, y: int, *, budget: int) -> bool:
    """Returns whether (prefill, x, decode, y) is admitted by the capacity model (the brute force's test)."""
    d = Deployment(prefill=prefill.layout, prefill_replicas=x, decode=decode.layout, decode_replicas=y)
    return (prefill.replicas_needed > 0 and decode.replicas_needed > 0 and x >= prefill.replicas_needed
            and y >= decode.replicas_needed and d.devices <= budget)


# --- objectives and the loop --------------------------------------------------------------------------------

def per_request(objective: str, load: Load) -> float:
    """Returns what one request/s is worth on the objective's scale: 1 (goodput) or the mean output (throughput)."""
    return 1.0 if objective == "goodput" else load.lengths.means()[1]


def disagg_key(outcome: DisaggOutcome, objective: str, load: Load) -> tuple[float, ...]:
    """Returns the sort key of a verified outcome (smaller is better): (-value per device, devices, TPOT, ...),
    its first two terms on `under_load.objective_key`'s scale."""
    d = outcome.deployment
    tpot = outcome.tpot_ms if not math.isnan(outcome.tpot_ms) else 0.0
    served = goodput_per_s(outcome, load) if objective == "goodput" else load.rate_per_s * per_request(objective, load)
    return (-served / d.devices, float(d.devices), tpot, float(d.replicas), *map(float, d.key))


def bound_of(devices: int, objective: str, load: Load) -> float:
    """Returns the best first term of `disagg_key` any deployment on `devices` devices can have."""
    return -load.rate_per_s * per_request(objective, load) / devices


def check_objective(objective: str) -> None:
    """Raises InputError unless the disaggregated search answers `objective`."""
    if objective not in DISAGG_OBJECTIVES:
        raise InputError(source="--objective", value=objective,
                         expected="one of " + ", ".join(DISAGG_OBJECTIVES) + " with --mode disagg or both (the "
                                  "disaggregated search compares deployments per device at the rate)")


def search(request: Request, load: Load, objective: str, *, top: int = 1,
           evaluator: DisaggEvaluator | None = None, budget: int | None = None,
           time_limit_s: float | None = None) -> DisaggAnswer:
    """Returns the `top` best verified disaggregated deployments for `objective` at the load's rate, best first
    (module docstring), on at most `budget` devices (default: the request's fleet).

    With `time_limit_s`, no deployment is verified once it has passed: the answer is then FEASIBLE (the best
    verified so far; UNKNOWN when none), as `under_load.search` stops.
    """
    import time

    check_objective(objective)
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    evaluator = evaluator or DisaggEvaluator(request, load)
    budget = request.cards if budget is None else budget
    notes = evaluator.notes
    if not evaluator.layouts:
        return DisaggAnswer(status=INFEASIBLE, best=(), capacities=(), verified=(), solves=0, notes=notes,
                            reasons=("no layout of one replica holds one sequence on the fleet",))
    sizes = sorted({lay.devices_per_group for lay in evaluator.layouts})
    smallest = sizes[0]
    visited: list[DisaggOutcome] = []
    found: list[DisaggOutcome] = []
    solves, status = 0, OPTIMAL
    caps: list[PoolCapacity] = []

    def beaten(devices: int) -> bool:
        """A deployment on `devices` devices cannot enter the top (its bound is worse than the k-th answer's)."""
        if len(found) < top:
            return False
        kth = sorted(disagg_key(o, objective, load) for o in found)[top - 1]
        return bound_of(devices, objective, load) > kth[0]

    for size in sizes:  # coefficients level by level: a layout of `size` devices needs size + smallest at least
        if size + smallest > budget or beaten(size + smallest):
            break
        caps += [evaluator.coefficient(role, lay) for role in ("prefill", "decode")
                 for lay in evaluator.layouts if lay.devices_per_group == size]
        prefill = [c for c in caps if c.role == "prefill"]
        decode = [c for c in caps if c.role == "decode"]
        while True:
            if len(visited) >= MAX_VERIFICATIONS or (deadline is not None and time.monotonic() > deadline):
                status = FEASIBLE
                break
            deployment = choose(prefill, decode, budget=budget, excluded=[o.deployment for o in visited])
            solves += 1
            if deployment is None or beaten(deployment.devices):
                break  # devices only rise from here: nothing left on these layouts can enter the top
            outcome = evaluator.verify(deployment)
            visited.append(outcome)
            if outcome.failure is None:
                found.append(outcome)
        if status == FEASIBLE:
            notes += (f"stopped after {len(visited)} verified deployments (the time limit or the most verified, "
                      f"{MAX_VERIFICATIONS}): the answer is the best of them, not proven",)
            break
    found.sort(key=lambda o: disagg_key(o, objective, load))
    if not found:
        status = INFEASIBLE if status == OPTIMAL else "UNKNOWN"
    caps.sort(key=lambda c: (c.role != "prefill", c.layout.shape))
    reasons = () if found else no_deployment_reasons(request, caps, visited, budget=budget)
    return DisaggAnswer(status=status, best=tuple(found[:top]), capacities=tuple(caps), verified=tuple(visited),
                        solves=solves, reasons=reasons, notes=notes)


def no_deployment_reasons(request: Request, caps: Sequence[PoolCapacity], visited: Sequence[DisaggOutcome], *,
                          budget: int) -> tuple[str, ...]:
    """Returns why no disaggregated deployment serves the rate, in words."""
    word = request.hardware.device_name
    out = []
    for role in ("prefill", "decode"):
        if not any(c.role == role and c.replicas_needed > 0 for c in caps):
            why = "; ".join(f"{c.layout.label}: {c.reason}" for c in caps if c.role == role)
            out.append(f"no {role} layout serves its share of the rate within the fleet ({why})")
    if not out:
        need = {role: min(c.layout.devices(c.replicas_needed) for c in caps if c.role == role and c.replicas_needed)
                for role in ("prefill", "decode")}
        if need["prefill"] + need["decode"] > budget:
            out.append(f"a disaggregated deployment needs at least {need['prefill'] + need['decode']} {word}s "
                       f"({need['prefill']} prefill + {need['decode']} decode), more than the {budget} of the fleet")
    out += [f"{o.deployment.label} ({counted(o.deployment.devices, word)}): {o.failure}" for o in visited[:5]]
    return tuple(out) or ("no disaggregated deployment fits the fleet",)
