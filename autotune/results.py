"""Typed results of recommend, pareto, sweep and enumerate, each with `.to_dict()` for JSON.

Results carry no wall-clock times, so that output is deterministic; benchmarks time the process.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autotune.parallel_plan import ParallelPlan
from cost_models.params import Calibration, calibration_for


#: Decimals kept in JSON, as `autotune estimate --json` keeps them (bytes are whole).
_DECIMALS = {"ttft_ms": 4, "tpot_ms": 4, "e2e_latency_ms": 4, "throughput_tokens_per_s": 3,
             "throughput_tokens_per_s_per_device": 3, "requests_per_s": 5}


def rounded_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """Returns the metrics with whole bytes and the estimate command's decimals (JSON stays readable)."""
    out = dict(metrics)
    for key, digits in _DECIMALS.items():
        if isinstance(out.get(key), float):
            out[key] = round(out[key], digits)
    if isinstance(out.get("memory_per_device_bytes"), Mapping):
        out["memory_per_device_bytes"] = {k: round(v) for k, v in out["memory_per_device_bytes"].items()}
    return out


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    """One configuration with the estimate's metrics (the keys of `autotune estimate --json`)."""

    plan: ParallelPlan
    metrics: Mapping[str, Any]
    """feasible, violations, memory_per_device_bytes, ttft_ms, tpot_ms, e2e_latency_ms,
    throughput_tokens_per_s, throughput_tokens_per_s_per_device, batch_size."""
    binding: tuple[str, ...] = ()
    """Limits that stop the same layout from running a larger batch (empty: none, or not asked)."""

    def to_dict(self) -> dict[str, Any]:
        out = self.plan.to_dict()
        out.update(rounded_metrics(self.metrics))
        if self.binding:
            out["binding_limits"] = list(self.binding)
        return out


@dataclass(frozen=True, kw_only=True)
class Assumptions:
    """What a result was computed for: the inputs a reader needs to trust the numbers."""

    model: str
    hardware: str
    space: str
    cards: int
    dtype: str
    kv_dtype: str
    input_len: int
    output_len: int
    batch: int | str
    ttft_ms: float | None
    tpot_ms: float | None
    device_name: str = "device"
    """What one device is called ("card" on RNGD, "GPU")."""
    unit_name: str = "device"
    """What a TP degree counts ("PE" on RNGD, "GPU")."""
    calibration: Calibration | None = None
    """Whether the efficiencies were fitted on this hardware; None: what the shipped fit says
    (`cost_models.params.calibration_for`), filled in at construction."""
    load: Mapping[str, Any] | None = None
    """Under traffic (`recommend --rate/--concurrency`): how it was simulated; None: one static batch."""

    def __post_init__(self) -> None:
        if self.calibration is None:
            object.__setattr__(self, "calibration", calibration_for(self.hardware))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "hardware": self.hardware, "space": self.space, "cards": self.cards,
            "dtype": self.dtype, "kv_dtype": self.kv_dtype, "input_len": self.input_len,
            "output_len": self.output_len, "batch": self.batch, "ttft_ms": self.ttft_ms, "tpot_ms": self.tpot_ms,
            "calibration": self.calibration.to_dict(),
        } | ({} if self.load is None else {"load": dict(self.load)})


@dataclass(frozen=True, kw_only=True)
class Alternative:
    """A nearby request that does fit, found by solving it for real."""

    kind: str
    """cards, dtype, input_len, batch, ttft_ms or tpot_ms."""
    change: str
    """In words: "use 4 cards instead of 2"."""
    value: Any
    recommendation: Recommendation

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "change": self.change, "value": self.value,
                "recommendation": self.recommendation.to_dict()}


@dataclass(frozen=True, kw_only=True)
class RecommendResult:
    """The best configurations for an objective, or why none fits."""

    status: str
    """OPTIMAL, FEASIBLE (time limit hit: best found, not proven), INFEASIBLE or UNKNOWN."""
    objective: str
    recommendations: tuple[Recommendation, ...]
    assumptions: Assumptions
    reasons: tuple[str, ...] = ()
    binding_limit_ids: tuple[str, ...] = ()
    """When infeasible: the limits (rule ids, memory, slo_ttft, slo_tpot) that together exclude every row."""
    alternatives: tuple[Alternative, ...] = ()
    candidates_total: int = 0
    candidates_feasible: int = 0
    modes: Mapping[str, Any] | None = None
    """Under a rate with --mode both (or disagg): which mode won and by how much (`solver.disagg_answers`)."""

    @property
    def feasible(self) -> bool:
        return bool(self.recommendations)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "objective": self.objective,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "assumptions": self.assumptions.to_dict(),
            "candidates_total": self.candidates_total,
            "candidates_feasible": self.candidates_feasible,
        }
        if self.modes is not None:
            out["modes"] = dict(self.modes)
        if not self.recommendations:
            out["reasons"] = list(self.reasons)
            out["binding_limit_ids"] = list(self.binding_limit_ids)
            out["alternatives"] = [a.to_dict() for a in self.alternatives]
        return out


@dataclass(frozen=True, kw_only=True)
class ParetoResult:
    """The exact non-dominated configurations on two axes, best on the first axis first."""

    status: str
    axes: tuple[str, str]
    points: tuple[Recommendation, ...]
    assumptions: Assumptions
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status,
            "axes": list(self.axes),
            "points": [p.to_dict() for p in self.points],
            "assumptions": self.assumptions.to_dict(),
        }
        if not self.points:
            out["reasons"] = list(self.reasons)
        return out


@dataclass(frozen=True, kw_only=True)
class SweepPoint:
    """One point of a sweep: its coordinates and its best configuration, or why none fits."""

    cards: int
    model: str
    dtype: str
    input_len: int
    status: str
    recommendation: Recommendation | None
    reasons: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cards": self.cards, "model": self.model, "dtype": self.dtype,
                               "input_len": self.input_len, "status": self.status}
        if self.recommendation is not None:
            out["recommendation"] = self.recommendation.to_dict()
        else:
            out["reasons"] = list(self.reasons)
        return out


@dataclass(frozen=True, kw_only=True)
class SweepResult:
    """Best configuration per sweep point, in the order the points were asked."""

    objective: str
    points: tuple[SweepPoint, ...]
    load: Mapping[str, Any] | None = None
    """Under traffic: the traffic every point was simulated under; None: static batches."""

    def to_dict(self) -> dict[str, Any]:
        out = {"objective": self.objective, "points": [p.to_dict() for p in self.points]}
        if self.load is not None:
            out["load"] = dict(self.load)
        return out


@dataclass(frozen=True, kw_only=True)
class EnumerateResult:
    """Every candidate, feasible first in the objective's order, then the infeasible ones."""

    objective: str
    candidates: tuple[Recommendation, ...]
    assumptions: Assumptions
    feasible_count: int = 0
    total_count: int = 0
    """Candidates before any --limit or --feasible-only cut."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "assumptions": self.assumptions.to_dict(),
            "total_count": self.total_count,
            "feasible_count": self.feasible_count,
            "candidates": [c.to_dict() for c in self.candidates],
        }

