"""Fitting the shared efficiency parameters to measurements: robust least squares on log error.

Only the fields of `FITTED_BOUNDS` move; every other parameter keeps its cited value. The
same parameters serve every device, model and layout: no per-device or per-row factor.
`fit` is one least-squares step; `fit_chain` runs the documented chain of steps that produced
the shipped parameters (docs/cost-model.md, section 4), for `autotune calibrate --chain` and
for the refit of every cross-validation fold alike.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
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


def fit(rows: list[MeasuredRow], start: CostParams, *, names: tuple[str, ...] | None = None,
        hardware: str | None = None) -> FitResult:
    """Returns the parameters minimizing the soft-L1 sum of squared log errors over `rows`.

    `hardware` (a hardware preset name): fit that device's own values (`CostParams.hardware_values`,
    priced by `for_hardware`) starting from the values it has, and leave the shared ('default') ones
    as they are; only whole fields (no 'field.key' mapping entries) have per-hardware values.
    """
    names = (DEFAULT_FITTED if hardware is None else DEVICE_FITTED) if names is None else names
    if hardware is not None and any("." in n for n in names):
        raise ValueError(f"per-hardware fits take whole fields, not mapping entries: {names}")

    lower = np.array([FITTED_BOUNDS[n][0] / _UNITS.get(n, 1.0) for n in names])
    upper = np.array([FITTED_BOUNDS[n][1] / _UNITS.get(n, 1.0) for n in names])
    origin = start if hardware is None else start.for_hardware(hardware)
    x0 = np.clip(np.array([origin.value(n) / _UNITS.get(n, 1.0) for n in names]), lower, upper)

    def to_params(x: np.ndarray) -> CostParams:
        values = {n: float(v) * _UNITS.get(n, 1.0) for n, v in zip(names, x)}
        if hardware is None:
            return start.with_values(**values)
        table = {hw: dict(own) for hw, own in start.hardware_values.items()}
        table[hardware] = {**table.get(hardware, {}), **values}
        return replace(start, hardware_values=table)

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
    fitted = to_params(x)
    if hardware is not None:
        # A held field gets no entry of its own (it was not fitted for this device) unless it had one.
        table = {hw: dict(own) for hw, own in fitted.hardware_values.items()}
        had = start.hardware_values.get(hardware, {})
        table[hardware] = {n: v for n, v in table[hardware].items() if n not in held or n in had}
        fitted = replace(fitted, hardware_values={hw: own for hw, own in table.items() if own})
    return FitResult(params=fitted, rows_used=len(rows), residuals=count,
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
            # A device's own value (`hardware_values`, e.g. RNGD's serving fit) keeps its part of the source.
            own = "".join(f"; {hw}: " + sources.get(name, "").split(f"; {hw}: ", 1)[1]
                          for hw, values in sorted(params.hardware_values.items())
                          if name in values and f"; {hw}: " in sources.get(name, ""))
            sources[name] = f"fitted by autotune calibrate on {data} (soft-L1 least squares on log error)" + own
    return sources


def hardware_fitted_sources(params: CostParams, names: tuple[str, ...], hardware: str, data: str,
                            held: tuple[str, ...] = ()) -> dict[str, Any]:
    """Returns the params' sources with `hardware`'s part of each fitted field naming the fit (shared part kept).

    A field's source reads '<shared source>; <hardware>: <own source>' (as RNGD's serving fit writes it).
    """
    sources = dict(params.sources)
    others = [hw for hw in params.hardware_values if hw != hardware]
    for name in names:
        if name in held:
            continue
        text = sources.get(name, "unknown")
        start = text.find(f"; {hardware}: ")
        if start >= 0:
            # Cut this hardware's part out: it runs to the next hardware's part, or to the end.
            ends = [i for i in (text.find(f"; {hw}: ", start + 1) for hw in others) if i > start]
            text = text[:start] + (text[min(ends):] if ends else "")
        sources[name] = (f"{text}; {hardware}: fitted by autotune calibrate --hardware {hardware} on {data} "
                         "(soft-L1 least squares on log error)")
    return sources


#: What `calibrate --hardware` fits by default, a device's own values: prefill is compute-bound (16- and
#: 8-bit matmuls), a decode step streams the weights and the KV cache, the roofline's overlap of the two
#: sets how a step grows with its tokens, and a step's fixed cost is what remains at one token (the
#: reasoning of RNGD's serving fit, `rngd_fit.FIT_FIELDS`). Fields no row depends on are held.
DEVICE_FITTED: tuple[str, ...] = ("compute_efficiency_16bit", "compute_efficiency_8bit", "bandwidth_efficiency",
                                  "attention_bandwidth_efficiency", "roofline_sharpness", "step_overhead_s")

#: The fields the throughput-dominated calibration file pins (step 1 of the chain).
EFFICIENCY_FIELDS: tuple[str, ...] = (
    "compute_efficiency_16bit", "compute_efficiency_8bit", "attention_compute_efficiency", "bandwidth_efficiency",
    "attention_bandwidth_efficiency", "roofline_sharpness", "comm_bandwidth_efficiency",
    "comm_bandwidth_efficiency_pcie", "sequence_overhead_s")
#: The fixed overheads, pinned by small-batch latency rows (step 2; throughput rows cannot pin them, issue #3).
OVERHEAD_FIELDS: tuple[str, ...] = ("layer_overhead_s", "step_overhead_s", "comm_call_overhead_s")
#: Load types whose rows measure a decode step's latency (TPOT, end-to-end latency at a fixed batch).
LATENCY_LOAD_TYPES: tuple[str, ...] = ("static_batch_e2e_latency", "online_fixed_concurrency")


@dataclass(frozen=True, kw_only=True)
class FitStep:
    """One step of the fit chain: the fields it fits and which rows of which measurement set it fits them on."""

    names: tuple[str, ...]
    data: str
    """The measurement set the step reads, by its builtin name (`calibration`, `extra`)."""
    load_types: tuple[str, ...] | None = None
    dtype: str | None = None

    def rows(self, data: Mapping[str, Sequence[MeasuredRow]]) -> list[MeasuredRow]:
        """Returns the rows of `data[self.data]` this step fits on (none when that set is absent)."""
        return select_rows(data.get(self.data, ()), dtype=self.dtype, load_types=self.load_types)

    def label(self, file_name: str) -> str:
        """Returns the data the step fits on in words: `measurements_extra.csv (fp4 rows)`."""
        filters = [f"{self.dtype} rows"] if self.dtype else []
        filters += [f"{','.join(self.load_types)} rows"] if self.load_types else []
        return file_name + "".join(f" ({f})" for f in filters)


#: The chain that produced `cost_models/params/default.yaml` (docs/cost-model.md, section 4):
#: efficiencies on calibration.csv, fixed overheads on the extra file's latency rows, the 4-bit
#: efficiency on its FP4 rows; run in alternation `CHAIN_PASSES` times, each step starting from
#: the previous step's result.
FIT_CHAIN: tuple[FitStep, ...] = (
    FitStep(names=EFFICIENCY_FIELDS, data="calibration"),
    FitStep(names=OVERHEAD_FIELDS, data="extra", load_types=LATENCY_LOAD_TYPES),
    FitStep(names=("compute_efficiency_4bit",), data="extra", dtype="fp4"),
)
#: Every scalar field a fit can move: the file between two steps stores each with 6 significant digits.
_ROUNDED = tuple(n for n in FITTED_BOUNDS if "." not in n)

#: Passes over the chain: a third pass changes no reported figure (docs/cost-model.md, section 4).
CHAIN_PASSES = 2


@dataclass(frozen=True, kw_only=True)
class StepFit:
    """One step of one pass of the chain: the step, its row count and its fit (None: it had no rows)."""

    step: FitStep
    pass_number: int
    rows: int
    result: FitResult | None


@dataclass(frozen=True, kw_only=True)
class ChainResult:
    params: CostParams
    """The parameters after the last step, each fitted field's source naming its step's data."""
    steps: tuple[StepFit, ...]

    def _last_pass(self) -> list[StepFit]:
        return [s for s in self.steps if s.pass_number == max(t.pass_number for t in self.steps)]

    @property
    def held(self) -> tuple[str, ...]:
        """Returns the fields a fit of the last pass held at their start value (no row it fitted depends on them)."""
        return tuple(dict.fromkeys(n for s in self._last_pass() if s.result is not None for n in s.result.held))

    @property
    def unfitted(self) -> tuple[str, ...]:
        """Returns the fields of the steps that had no rows (their set absent or held out): start values kept."""
        return tuple(dict.fromkeys(n for s in self._last_pass() if s.result is None for n in s.step.names))

    @property
    def converged(self) -> bool:
        """Returns True when every least-squares step that ran reported success."""
        return all(s.result.success for s in self.steps if s.result is not None)


def select_rows(rows: Sequence[MeasuredRow], *, hardware: str | None = None, dtype: str | None = None,
                load_types: Sequence[str] | None = None) -> list[MeasuredRow]:
    """Returns the rows of one hardware preset, weight format and load types (None: any)."""
    return [r for r in rows
            if (hardware is None or r.hardware_key == hardware) and (dtype is None or r.dtype == dtype)
            and (load_types is None or r.load_type in load_types)]


def fit_chain(data: Mapping[str, Sequence[MeasuredRow]], start: CostParams, *,
              steps: tuple[FitStep, ...] = FIT_CHAIN, passes: int = CHAIN_PASSES,
              file_names: Mapping[str, str] | None = None) -> ChainResult:
    """Returns the parameters the fit chain reaches from `start` on the measurement sets `data`.

    `data` maps a set's builtin name (`calibration`, `extra`) to its rows. A step whose rows are
    absent (a set not given, or every row held out by a cross-validation fold) is skipped: its
    fields keep their value and source. `file_names` names each set in the fitted fields' sources.
    """
    names_of = {"calibration": "calibration.csv", "extra": "measurements_extra.csv"} | dict(file_names or {})
    params = start
    record: list[StepFit] = []
    for number in range(1, passes + 1):
        for step in steps:
            rows = step.rows(data)
            if not rows:
                record.append(StepFit(step=step, pass_number=number, rows=0, result=None))
                continue
            result = fit(rows, _as_stored(params), names=step.names)
            sources = fitted_sources(result.params, step.names, step.label(names_of.get(step.data, step.data)),
                                     result.held)
            params = replace(result.params, sources=sources)
            record.append(StepFit(step=step, pass_number=number, rows=len(rows), result=result))
    return ChainResult(params=_as_stored(params), steps=tuple(record))


def _as_stored(params: CostParams) -> CostParams:
    """Returns `params` with the scalar fields stored as a parameter file stores them (6 significant digits).

    The documented chain passes each step's result to the next through the YAML file
    (`params.dump_params`); the fit's tolerance makes its result move with that rounding of its
    start, so the chain rounds alike and `calibrate --chain` equals the documented commands.
    """
    return params.with_values(**{n: float(f"{params.value(n):.6g}") for n in _ROUNDED})
