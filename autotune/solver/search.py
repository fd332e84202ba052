"""The search problem: candidate rows, their costs, and the limits that exclude rows.

`build_problem` turns specs into a `Problem`: every (tp, pp, dp) the space's rules could allow
on the fleet times every batch the workload allows, evaluated by the cost model in one call,
with one Boolean mask per limit: each rule of the space, memory per device, and the SLOs.
The solver, `enumerate` and the explanations all read the same masks, so they cannot disagree.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from autotune.solver import batches as batches_
from autotune.specs.candidates import Candidates
from autotune.parallel_plan import ParallelPlan
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import AUTO, Workload
from cost_models.table import CostTable

if TYPE_CHECKING:
    from autotune.solver.rules import RuleResult
    from cost_models.params import CostParams

#: Limit ids that are not rules of the space.
MEMORY = "memory"
SLO_TTFT = "slo_ttft"
SLO_TPOT = "slo_tpot"
#: Limit ids of degrees the user pinned (--tp/--pp/--dp/--ep/--adp) start with this.
REQUESTED_PREFIX = "requested_"

GB = 1e9  # Vendors' decimal gigabytes, as the hardware presets use.

#: Which batches per layout `build_problem` turns into rows for batch 'auto'.
BEST = "best"
EVERY = "every"
BRUTE_FORCE = "brute-force"


@dataclass(frozen=True, kw_only=True)
class Limit:
    """One limit over all rows: which rows break it and, for a row, the message with numbers."""

    limit_id: str
    description: str
    violated: np.ndarray
    """Boolean, one per candidate row."""
    message: Callable[[int], str]
    """Row index -> one sentence with the numbers (only asked for rows that break the limit)."""
    standing: Callable[[int], str] | None = None
    """Row index -> where the row stands against a limit that depends on the batch, in words with
    numbers ("TPOT 99.60 ms of the 100 ms SLO"); None for limits the batch does not move."""


@dataclass(frozen=True, kw_only=True)
class Problem:
    """Everything the formulation, enumerate and the explanations need for one request."""

    candidates: Candidates
    table: CostTable
    limits: tuple[Limit, ...]
    units_per_device: int = 1
    """Compute units a TP degree counts per device (8 PEs per RNGD card, 1 per GPU)."""
    model: ModelSpec | None = None
    hardware: HardwareSpec | None = None
    space: SearchSpace | None = None
    workload: Workload | None = None

    @cached_property
    def feasible(self) -> np.ndarray:
        """Returns a Boolean array: the rows that break no limit."""
        ok = np.ones(len(self.candidates), dtype=bool)
        for limit in self.limits:
            ok &= ~limit.violated
        return ok

    @cached_property
    def throughput_per_device(self) -> np.ndarray:
        """Returns output tokens/s per device for every row (the table computes it afresh on each access)."""
        return np.asarray(self.table.throughput_tokens_per_s_per_device, dtype=float)

    def violations(self, row: int) -> list[str]:
        """Returns the messages of every limit that `row` breaks, in the limits' order."""
        return [limit.message(row) for limit in self.limits if limit.violated[row]]

    def limits_by_id(self, limit_id: str) -> Callable[[int], str]:
        """Returns the message function of the first limit with `limit_id`."""
        return next(limit.message for limit in self.limits if limit.limit_id == limit_id)

    def limit_description(self, limit_id: str) -> str:
        """Returns the description of the first limit with `limit_id`."""
        return next(limit.description for limit in self.limits if limit.limit_id == limit_id)

    def violation_masks(self) -> dict[str, np.ndarray]:
        """Returns limit id -> Boolean mask (limits with the same id are merged)."""
        masks: dict[str, np.ndarray] = {}
        for limit in self.limits:
            masks[limit.limit_id] = masks.get(limit.limit_id, False) | limit.violated
        return masks

    def plan(self, row: int) -> ParallelPlan:
        """Returns the layout of `row` as the runtime counts it."""
        c = self.candidates
        tp, pp, dp = int(c.tp[row]), int(c.pp[row]), int(c.dp[row])
        ep, adp = int(c.ep[row]), int(c.adp[row])
        # Stated for an MoE model (even when 1) and whenever not 1; a dense plan's JSON stays as it was.
        shown = (self.model is not None and self.model.is_moe) or ep != 1 or adp != 1
        return ParallelPlan(tensor_parallel_size=tp, pipeline_parallel_size=pp, data_parallel_size=dp,
                            batch_size=int(c.batch[row]), cards_used=int(self.table.devices_used[row]),
                            pes_used=tp * pp * dp, expert_parallel_size=ep if shown else None,
                            attention_data_parallel_size=adp if shown else None)

    def metrics(self, row: int) -> dict[str, Any]:
        """Returns the keys of `autotune estimate --json` for `row` (times in ms, memory in bytes)."""
        t = self.table
        violations = self.violations(row)
        return {
            "feasible": not violations,
            "violations": violations,
            "memory_per_device_bytes": {
                "weights": float(t.weights_bytes[row]),
                "kv_cache": float(t.kv_cache_bytes[row]),
                "activations": float(t.activations_bytes[row]),
                "reserved": float(t.reserved_bytes[row]),
                "total": float(t.total_bytes[row]),
                "capacity": float(t.capacity_bytes),
            },
            "ttft_ms": float(t.ttft_s[row]) * 1e3,
            "tpot_ms": float(t.tpot_s[row]) * 1e3,
            "e2e_latency_ms": float(t.e2e_latency_s[row]) * 1e3,
            "throughput_tokens_per_s": float(t.throughput_tokens_per_s[row]),
            "throughput_tokens_per_s_per_device": float(self.throughput_per_device[row]),
            "batch_size": int(self.candidates.batch[row]),
            "max_batch": int(t.max_batch[row]),
            "requests_per_s": (float(t.throughput_tokens_per_s[row]) / self.workload.output_len
                               if self.workload is not None else None),
        }


def expand_batches(tp: np.ndarray, pp: np.ndarray, dp: np.ndarray, batches: Sequence[int],
                   cards: int, *, ep: np.ndarray | None = None, adp: np.ndarray | None = None) -> Candidates:
    """Returns every (tp, pp, dp, ep, adp) row crossed with every batch, degrees outer and batch inner
    (`ep`, `adp` None: all 1)."""
    n = len(tp)
    b = np.asarray(batches, dtype=np.int64)

    def repeat(values: np.ndarray | None) -> np.ndarray | None:
        return None if values is None else np.repeat(np.asarray(values, dtype=np.int64), len(b))

    return Candidates(tp=repeat(tp), pp=repeat(pp), dp=repeat(dp), batch=np.tile(b, n), cards=cards,
                      ep=repeat(ep), adp=repeat(adp))


def device_word(hardware: HardwareSpec | None) -> str:
    """Returns what one device is called in messages: the hardware's `device_name` ("card", "GPU")."""
    return "device" if hardware is None else hardware.device_name


def memory_limit(table: CostTable, hardware: HardwareSpec | None) -> Limit:
    """Returns the memory-per-device limit: every device's total must fit its capacity."""
    word = device_word(hardware)
    capacity_gb = table.capacity_bytes / GB

    def message(row: int) -> str:
        return (f"memory: {table.total_bytes[row] / GB:.1f} GB per {word} needed (weights "
                f"{table.weights_bytes[row] / GB:.1f}, KV cache {table.kv_cache_bytes[row] / GB:.1f}, "
                f"activations {table.activations_bytes[row] / GB:.1f}, reserved "
                f"{table.reserved_bytes[row] / GB:.1f}) > {capacity_gb:.1f} GB capacity")

    def standing(row: int) -> str:
        return f"memory {table.total_bytes[row] / GB:.1f} of {capacity_gb:.1f} GB per {word}"

    return Limit(limit_id=MEMORY, description=f"memory per {word} within its capacity",
                 violated=~np.asarray(table.fits_memory, dtype=bool), message=message, standing=standing)


def slo_limits(table: CostTable, workload: Workload) -> tuple[Limit, ...]:
    """Returns the TTFT and TPOT SLO limits the workload sets (none when it sets none)."""
    limits = []
    if workload.ttft_ms is not None:
        ttft_ms = np.asarray(table.ttft_s, dtype=float) * 1e3
        bound = workload.ttft_ms
        limits.append(Limit(limit_id=SLO_TTFT, description=f"TTFT <= {bound:g} ms",
                            violated=~(ttft_ms <= bound),
                            message=lambda r: f"TTFT {ttft_ms[r]:.1f} ms > SLO {bound:g} ms",
                            standing=lambda r: f"TTFT {ttft_ms[r]:.1f} ms of the {bound:g} ms SLO"))
    if workload.tpot_ms is not None:
        tpot_ms = np.asarray(table.tpot_s, dtype=float) * 1e3
        bound_tpot = workload.tpot_ms
        limits.append(Limit(limit_id=SLO_TPOT, description=f"TPOT <= {bound_tpot:g} ms",
                            violated=~(tpot_ms <= bound_tpot),
                            message=lambda r: f"TPOT {tpot_ms[r]:.2f} ms > SLO {bound_tpot:g} ms",
                            standing=lambda r: f"TPOT {tpot_ms[r]:.2f} ms of the {bound_tpot:g} ms SLO"))
    return tuple(limits)


def rule_limits(rule_results: Sequence[RuleResult]) -> tuple[Limit, ...]:
    """Returns one Limit per rule result of `autotune.solver.rules` (with its standing for rules the batch moves)."""
    return tuple(Limit(limit_id=result.rule_id, description=result.description,
                       violated=np.asarray(result.violated, dtype=bool), message=result.message,
                       standing=result.standing)
                 for result in rule_results)


def build_problem(*, model: ModelSpec, hardware: HardwareSpec, space: SearchSpace, workload: Workload, cards: int,
                  params: CostParams | None = None, pins: Mapping[str, int | None] | None = None,
                  batches: str = BEST, layout: tuple[int, int, int] | None = None) -> Problem:
    """Returns the problem for `cards` devices: candidates, their cost table and every limit.

    With the workload's batch 'auto', `batches` says which batches per layout become rows (see
    `autotune.solver.batches`): BEST, each objective's best batch, the largest feasible one and the next
    (what `recommend` needs, exact over every integer batch); EVERY, every batch from 1 to the
    largest feasible one, plus the next (the Pareto front); BRUTE_FORCE, every batch from 1 to one
    past the largest that memory and the runtime allow, SLOs not used to bound it (what the
    solver is checked against). A given batch is the only row per layout. `layout` (TP, PP, DP)
    replaces the space's layouts by that one (what `estimate` costs).

    `layout` may also be (TP, PP, DP, EP, ADP). For a mixture-of-experts model every layout is crossed with
    the expert-parallel and attention data-parallel degrees the space runs (`rules.moe_degree_superset`).

    `pins` ({'tp': 4, 'pp': None, 'ep': 8, ...}) fixes degrees: rows with another degree are excluded by
    a `requested_*` limit, and pinned layouts outside the usual superset (PP 5 on 4 cards) are
    added, so that the rules can say why they are rejected.
    """
    from autotune.solver import rules
    import cost_models

    if layout is None:
        tp, pp, dp = rules.degree_superset(space, hardware, model, cards)
        tp, pp, dp, ep, adp = rules.moe_degree_superset(space, model, tp, pp, dp)
    else:  # one layout only (`autotune estimate`)
        values = tuple(layout) + (1,) * (5 - len(layout))
        tp, pp, dp, ep, adp = (np.array([v], dtype=np.int64) for v in values)
    pins = {k: v for k, v in (pins or {}).items() if v is not None}
    if pins:
        tp, pp, dp, ep, adp = with_pinned_layouts(tp, pp, dp, pins, ep=ep, adp=adp)
    moe = bool(np.any(ep != 1) or np.any(adp != 1))
    degrees = {"ep": ep, "adp": adp} if moe else {}  # plain layouts: Candidates' own all-1 default
    layouts = expand_batches(tp, pp, dp, (1,), cards, **degrees)
    params = cost_models.load_params() if params is None else params  # parsed once, not per bisection step

    tables: dict[bytes, CostTable] = {}

    def evaluate(rows: Candidates) -> CostTable:
        # The bisections of `autotune.solver.batches` ask for the same rows again (each objective starts at
        # batch 1 and at the largest feasible batch): cost each distinct set of rows once.
        key = b"".join(np.ascontiguousarray(getattr(rows, name), dtype=np.int64).tobytes()
                       for name in ("tp", "pp", "dp", "ep", "adp", "batch"))
        if key not in tables:
            tables[key] = cost_models.evaluate(model, hardware, workload, rows, params=params)
        return tables[key]

    if workload.batch != AUTO:
        candidates = expand_batches(tp, pp, dp, (int(workload.batch),), cards, **degrees)
    elif batches == EVERY:
        candidates = batches_.every_batch(layouts, batches_.batch_range(evaluate, space, workload, layouts).feasible)
    elif batches == BRUTE_FORCE:
        ranges = batches_.batch_range(evaluate, space, dataclasses.replace(workload, ttft_ms=None, tpot_ms=None),
                                      layouts)
        candidates = batches_.every_batch(layouts, ranges.feasible)
    else:
        candidates, _ = batches_.layout_batches(evaluate, space, workload, layouts)
    table = evaluate(candidates)
    results = rules.check_rules(space, hardware, model, cards, candidates.tp, candidates.pp, candidates.dp,
                                ep=candidates.ep, adp=candidates.adp)
    results += rules.check_batch_rules(space, model, workload.input_len, workload.output_len, candidates.pp,
                                       candidates.batch)
    limits = rule_limits(results) + (memory_limit(table, hardware),) + slo_limits(table, workload)
    limits += pin_limits(candidates, pins)
    return Problem(candidates=candidates, table=table, limits=limits,
                   units_per_device=hardware.compute_units_per_device,
                   model=model, hardware=hardware, space=space, workload=workload)


#: The degree columns of a layout, in sort order, and the flag that pins each.
DEGREES: tuple[str, ...] = ("tp", "pp", "dp", "ep", "adp")
PIN_FLAGS = {"tp": "--tp", "pp": "--pp", "dp": "--dp", "ep": "--ep", "adp": "--adp"}
_PIN_LABELS = {"tp": "TP", "pp": "PP", "dp": "DP", "ep": "EP", "adp": "attention DP"}


def with_pinned_layouts(tp: np.ndarray, pp: np.ndarray, dp: np.ndarray, pins: Mapping[str, int], *,
                        ep: np.ndarray | None = None, adp: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
    """Returns the superset plus every row with the pinned degrees put in, deduplicated, sorted by (tp, pp, dp[, ep, adp]).

    Without `ep` and `adp` (a plain superset) and no pin on them, returns (tp, pp, dp) as before; otherwise
    (tp, pp, dp, ep, adp).
    """
    five = ep is not None or adp is not None or "ep" in pins or "adp" in pins
    ones = np.ones(len(tp), dtype=np.int64)
    columns = {"tp": tp, "pp": pp, "dp": dp, "ep": ones if ep is None else ep, "adp": ones if adp is None else adp}
    names = DEGREES if five else DEGREES[:3]
    pinned = {name: np.full(len(tp), pins[name], dtype=np.int64) if name in pins else columns[name]
              for name in names}
    stacked = np.concatenate([np.stack([columns[n] for n in names], axis=1),
                              np.stack([pinned[n] for n in names], axis=1)]).astype(np.int64)
    if len(stacked) == 0:
        stacked = np.array([[pins.get(n, 1) for n in names]], dtype=np.int64)
    unique = np.unique(stacked, axis=0)  # sorted lexicographically by the degrees, as the superset is
    return tuple(unique[:, k].copy() for k in range(len(names)))


def pin_limits(candidates: Candidates, pins: Mapping[str, int]) -> tuple[Limit, ...]:
    """Returns one limit per pinned degree: rows with another value are excluded."""
    limits = []
    for name in DEGREES:
        if name not in pins:
            continue
        column, value, label = getattr(candidates, name), pins[name], _PIN_LABELS[name]
        limits.append(Limit(limit_id=f"{REQUESTED_PREFIX}{name}",
                            description=f"{label} {value} as requested ({PIN_FLAGS[name]})",
                            violated=column != value,
                            message=lambda r, col=column, v=value, lb=label: f"{lb} {int(col[r])} is not the "
                                                                             f"requested {lb} {v}"))
    return tuple(limits)
