"""Fitting the shared efficiency parameters to measurements: robust least squares on log error.

Only the fields of `FITTED_BOUNDS` move; every other parameter keeps its cited value. The
same parameters serve every device, model and layout: no per-device or per-row factor.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from cost_models.measurements import MeasuredRow
from cost_models.params import DEFAULT_FITTED, FITTED_BOUNDS, CostParams
from cost_models.regimes import PreparedRows, aligned, prepare
from cost_models.validation import METRICS

#: Residual scale of the soft-L1 loss: log errors beyond ~10% count linearly, so a few
#: rows the model cannot represent do not drag the rest.
LOSS_SCALE = 0.1

#: Relative finite-difference step: memory figures move the batch by whole sequences, so
#: their effect is piecewise constant and needs a coarser step to be seen.
_STEP = {"runtime_reserve_bytes.default": 0.05}

#: Scale of each fitted field in the optimizer's variables, so every variable is O(1).
_UNITS = {"layer_overhead_s": 1e-6, "step_overhead_s": 1e-3, "sequence_overhead_s": 1e-6, "comm_call_overhead_s": 1e-6,
          "runtime_reserve_bytes.default": 1e9}


@dataclass(frozen=True, kw_only=True)
class FitResult:
    params: CostParams
    rows_used: int
    residuals: int
    cost: float
    success: bool
    message: str
    held: tuple[str, ...] = ()
    """Requested fields the rows cannot move (no row depends on them), kept at their start value."""


def log_residuals(prepared: PreparedRows, params: CostParams) -> np.ndarray:
    """Returns log(predicted / measured) for every measured figure the model predicts as positive.

    Rows predicted infeasible (no batch fits) carry no information about efficiencies and
    are left out of the fit (validation still counts them).
    """
    pairs = aligned(prepared, params)
    parts = []
    for metric in METRICS:
        predicted, measured = pairs[metric]
        ok = np.isfinite(predicted) & np.isfinite(measured) & (predicted > 0) & (measured > 0)
        parts.append(np.log(predicted[ok] / measured[ok]))
    return np.concatenate(parts)


def fit(rows: list[MeasuredRow], start: CostParams, *, names: tuple[str, ...] | None = None) -> FitResult:
    """Returns the parameters minimizing the soft-L1 sum of squared log errors over `rows`."""
    names = DEFAULT_FITTED if names is None else names

    lower = np.array([FITTED_BOUNDS[n][0] / _UNITS.get(n, 1.0) for n in names])
    upper = np.array([FITTED_BOUNDS[n][1] / _UNITS.get(n, 1.0) for n in names])
    x0 = np.clip(np.array([start.value(n) / _UNITS.get(n, 1.0) for n in names]), lower, upper)

    def to_params(x: np.ndarray) -> CostParams:
        return start.with_values(**{n: float(v) * _UNITS.get(n, 1.0) for n, v in zip(names, x)})

    def residuals(x: np.ndarray) -> np.ndarray:
        params = to_params(x)
        # Per-hardware memory figures are baked into the rows: rebuild them when one moves.
        rows_for = prepare(rows, params) if any("." in n for n in names) else prepared
        return log_residuals(rows_for, params)

    prepared = prepare(rows, start)

    base = residuals(x0)
    count = len(base)
    # A field no row depends on (the PCIe efficiency when every row runs on NVLink) has a zero
    # Jacobian column: the optimizer would send it anywhere. Keep it at its start value.
    movable = np.array([_identifiable(residuals, x0, base, i, lower[i], upper[i]) for i in range(len(names))],
                       dtype=bool)
    held = tuple(n for n, ok in zip(names, movable) if not ok)
    x = x0.copy()
    result = None
    if movable.any():
        def moving_residuals(free: np.ndarray) -> np.ndarray:
            full = x0.copy()
            full[movable] = free
            return residuals(full)

        steps = np.array([_STEP.get(n, 1e-4) for n, ok in zip(names, movable) if ok])
        result = least_squares(moving_residuals, x0[movable], bounds=(lower[movable], upper[movable]),
                               loss="soft_l1", f_scale=LOSS_SCALE, x_scale="jac", diff_step=steps, max_nfev=400)
        x[movable] = result.x
    return FitResult(params=to_params(x), rows_used=len(rows), residuals=count,
                     cost=float(result.cost) if result is not None else 0.0,
                     success=bool(result.success) if result is not None else True,
                     message=str(result.message) if result is not None else "no field depends on these rows",
                     held=held)


def _identifiable(residuals, x0: np.ndarray, base: np.ndarray, index: int, lower: float, upper: float) -> bool:
    """Returns True when moving field `index` by 10% of its range changes some residual."""
    probe = x0.copy()
    span = 0.1 * (upper - lower)
    probe[index] = x0[index] + span if x0[index] + span <= upper else x0[index] - span
    moved = residuals(probe)
    return moved.shape != base.shape or bool(np.any(np.abs(moved - base) > 1e-12))


def fitted_sources(params: CostParams, names: tuple[str, ...], data: str,
                   held: tuple[str, ...] = ()) -> dict[str, Any]:
    """Returns the params' sources with each fitted field naming the fit and the data (held fields keep theirs)."""
    sources = dict(params.sources)
    for name in names:
        if name not in held:
            sources[name] = f"fitted by autotune calibrate on {data} (soft-L1 least squares on log error)"
    return sources
