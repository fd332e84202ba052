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

    count = len(residuals(x0))
    result = least_squares(residuals, x0, bounds=(lower, upper), loss="soft_l1", f_scale=LOSS_SCALE,
                           x_scale="jac", diff_step=np.array([_STEP.get(n, 1e-4) for n in names]), max_nfev=400)
    return FitResult(params=to_params(result.x), rows_used=len(rows), residuals=count,
                     cost=float(result.cost), success=bool(result.success), message=str(result.message))


def fitted_sources(params: CostParams, names: tuple[str, ...], data: str) -> dict[str, Any]:
    """Returns the params' sources with each fitted field naming the fit and the data."""
    sources = dict(params.sources)
    for name in names:
        sources[name] = f"fitted by autotune calibrate on {data} (soft-L1 least squares on log error)"
    return sources
