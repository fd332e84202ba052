"""RNGD's own serving parameters: fitted on third-party measured serving runs of one RNGD card.

The shared efficiencies and overheads (`params/default.yaml`) are fitted on GPU measurements. RNGD
gets its own values of a few of them (`FIT_FIELDS`), fitted here on `rngd_serving.csv` (kept outside
the repository, in ../shared/data/measurements; its README gives the source and reliability flags):

- which figures are used (`usable_points`): the TTFT of every Qwen3-4B-FP8 row, the TPOT of the
  closed-loop rows, and the throughput of the one closed-loop row whose window is >= 120 s (the
  source repository found shorter windows overstate throughput). The two Qwen2.5-0.5B rows (a
  5-request smoke test under 1 s, no model preset) are left out. Each row runs at its measured median
  prompt length (`actual prompt median` in `note`): at a bucket edge the 5% between the target and
  the real prompt changes the compiled bucket that runs it.
- how each is predicted (`predict`): the serving simulator with the Furiosa LLM profile of the
  row's release, closed loop at the row's concurrency (a prefill probe is one client, one output
  token), comparing the simulated p50 TTFT and TPOT with the measured p50s.
- the fit (`fit`): scipy least squares on log(predicted / measured), soft-L1 loss as `calibration.fit`.
  The fitted values are stored as the 'rngd' entries of those fields in the parameter file
  (`CostParams.hardware_values`), so GPU answers keep the shared values.

`python -m cost_models.rngd_fit CSV [--write PARAMS.yaml] [--cross-validate]` fits, prints the
in-sample accuracy, writes the values with this command and the data's SHA-256 into the parameter
file, and (`--cross-validate`) prints leave-one-row-out accuracy: each row predicted by a fit on the others.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from autotune.errors import InfeasibleError, InputError
from cost_models.measurements import MeasuredRow, read_measurements
from cost_models.params import FITTED_BOUNDS, CostParams, dump_params, load_params

HARDWARE = "rngd"
#: The fields RNGD gets its own value of: prefill is compute-bound (8-bit matmuls; every Qwen3-4B row is
#: FP8: the prefill probes pin it), a decode step streams the weights and the KV cache (TPOT at concurrency 1
#: to 128), the roofline's overlap of the two sets how fast a step grows with its tokens, and a step's fixed
#: cost is what remains at one token.
FIT_FIELDS: tuple[str, ...] = ("compute_efficiency_8bit", "bandwidth_efficiency", "attention_bandwidth_efficiency",
                               "roofline_sharpness", "step_overhead_s")
#: Scale of each field in the optimizer's variables, so every variable is O(1).
_UNITS = {"step_overhead_s": 1e-3, "sequence_overhead_s": 1e-6}
#: Residual scale of the soft-L1 loss (as `calibration.LOSS_SCALE`).
LOSS_SCALE = 0.1
#: Relative finite-difference step: simulated times move in whole steps, so a coarse step sees them.
DIFF_STEP = 1e-2
#: Shortest measurement window whose throughput is used (source repository README: throughput falls
#: over the first 2-3 minutes of a run; it needs >= 120 s).
MIN_WINDOW_S = 120.0
#: Requests each simulated client sends, and the fewest per row (as `serving.validation`).
REQUESTS_PER_CLIENT = 6
MIN_REQUESTS = 48
METRICS = ("throughput", "ttft", "tpot")
#: Held-out targets of issue #9 section 2 (median absolute % error per metric).
TARGETS_PCT = {"throughput": 15.0, "ttft": 25.0, "tpot": 15.0}

_ACTUAL_PROMPT = re.compile(r"actual prompt median ([0-9.]+) tok")
_WINDOW = re.compile(r"window ([0-9.]+) s")


@dataclass(frozen=True, kw_only=True)
class Point:
    """One usable measured row: the row (at its real prompt length) and the figures it is fitted on."""

    row: MeasuredRow
    concurrency: int
    release: str | None
    """The Furiosa LLM release that served it ('furiosa-llm 2026.3.0' -> '2026.3'; None: the profile's default)."""
    measured: dict[str, float]
    """metric -> measured value (tokens/s or seconds) the fit uses: only the figures the flags let us use."""
    reported: dict[str, float]
    """metric -> measured value accuracy is reported on: `measured` plus the throughput of every closed-loop
    row (short windows included, as `serving.validation` scores them)."""


def usable_points(path: str | Path) -> tuple[list[Point], list[tuple[str, str]]]:
    """Returns the usable points of an RNGD serving file and the (row_id, reason) of the rows left out."""
    rows, skipped = read_measurements(Path(path))
    excluded = [(s.row_id, s.reason) for s in skipped]
    notes, frameworks = _columns(Path(path))
    points = []
    for row in rows:
        note = notes.get(row.row_id, "")
        if row.hardware_key != HARDWARE:
            excluded.append((row.row_id, f"hardware {row.hardware_key}, not {HARDWARE}"))
            continue
        if "smoke-test" in note:
            excluded.append((row.row_id, "smoke-test run (S0): 5 requests, window under 1 s"))
            continue
        actual = _ACTUAL_PROMPT.search(note)
        if actual is not None:
            row = replace(row, input_len=int(float(actual.group(1)) + 0.5))
        window = _WINDOW.search(note)
        measured = {"ttft": row.ttft_s}
        if row.output_len > 1:
            measured["tpot"] = row.tpot_s
            if window is not None and float(window.group(1)) >= MIN_WINDOW_S:
                measured["throughput"] = row.throughput_tokens_per_s
        measured = {k: float(v) for k, v in measured.items() if v is not None and v > 0}
        reported = dict(measured)
        if row.output_len > 1 and row.throughput_tokens_per_s:
            reported["throughput"] = float(row.throughput_tokens_per_s)
        release = re.search(r"furiosa-llm (\d{4}\.\d+)", frameworks.get(row.row_id, ""))
        points.append(Point(row=row, concurrency=int(row.batch or 1), measured=measured, reported=reported,
                            release=release.group(1) if release else None))
    return points, excluded


def _columns(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Returns row_id -> `note` and row_id -> `framework` (columns `read_measurements` does not keep)."""
    import csv
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    return ({r["row_id"]: r.get("note") or "" for r in rows}, {r["row_id"]: r.get("framework") or "" for r in rows})


def predict(points: list[Point], params: CostParams) -> dict[str, np.ndarray]:
    """Returns metric -> per-point prediction (throughput tokens/s, p50 TTFT and TPOT in s; NaN if none fits)."""
    from cost_models.serving.engines import load_engine
    from cost_models.serving.simulator import simulate_layout
    from cost_models.serving.traffic import Traffic, fixed_lengths

    out = {m: np.full(len(points), np.nan) for m in METRICS}
    for i, point in enumerate(points):
        row = point.row
        engine = load_engine("furiosa-llm", row.hardware, release=point.release)
        traffic = Traffic(requests=max(REQUESTS_PER_CLIENT * point.concurrency, MIN_REQUESTS),
                          lengths=fixed_lengths(row.input_len, row.output_len), concurrency=point.concurrency)
        try:
            result = simulate_layout(row.model, row.hardware, dtype=row.dtype, kv_dtype=row.kv_dtype, tp=row.tp,
                                     pp=row.pp, dp=row.dp, engine=engine, traffic=traffic, params=params)
        except InfeasibleError:
            continue
        out["throughput"][i] = result.output_tokens_per_s
        out["ttft"][i] = result.ttft_ms.p50 / 1e3
        out["tpot"][i] = result.tpot_ms.p50 / 1e3 if row.output_len > 1 else np.nan
    return out


def with_rngd(params: CostParams, values: dict[str, float]) -> CostParams:
    """Returns `params` with `values` as RNGD's own entries (the other hardware keep theirs)."""
    table = {hw: dict(v) for hw, v in params.hardware_values.items()}
    table[HARDWARE] = {**table.get(HARDWARE, {}), **values}
    return replace(params, hardware_values=table)


def log_residuals(points: list[Point], params: CostParams) -> np.ndarray:
    """Returns log(predicted / measured) of every figure the points are fitted on (a large value where none fits)."""
    pred = predict(points, params)
    out = []
    for i, point in enumerate(points):
        for metric, value in sorted(point.measured.items()):
            p = pred[metric][i]
            out.append(np.log(p / value) if np.isfinite(p) and p > 0 else 5.0)
    return np.array(out)


@dataclass(frozen=True, kw_only=True)
class RngdFit:
    values: dict[str, float]
    """Fitted field -> RNGD's value (6 significant digits, as the parameter file stores it)."""
    success: bool
    cost: float
    residuals: int


def fit(points: list[Point], start: CostParams, *, names: tuple[str, ...] = FIT_FIELDS) -> RngdFit:
    """Returns RNGD's values of `names` minimising the soft-L1 sum of squared log errors over `points`.

    Starts from the shared (GPU-fitted) values, within `FITTED_BOUNDS`; deterministic.
    """
    base = replace(start, hardware_values={})  # the shared values, whatever RNGD entries `start` has
    units = np.array([_UNITS.get(n, 1.0) for n in names])
    lower = np.array([FITTED_BOUNDS[n][0] for n in names]) / units
    upper = np.array([FITTED_BOUNDS[n][1] for n in names]) / units
    x0 = np.clip(np.array([base.value(n) for n in names]) / units, lower, upper)

    def values_of(x: np.ndarray) -> dict[str, float]:
        return {n: float(f"{v * u:.6g}") for n, v, u in zip(names, x, units)}

    def residuals(x: np.ndarray) -> np.ndarray:
        return log_residuals(points, with_rngd(start, values_of(x)))

    result = least_squares(residuals, x0, bounds=(lower, upper), loss="soft_l1", f_scale=LOSS_SCALE,
                           x_scale="jac", diff_step=DIFF_STEP, max_nfev=200)
    return RngdFit(values=values_of(result.x), success=bool(result.success), cost=float(result.cost),
                   residuals=len(result.fun))


def accuracy(points: list[Point], predicted: dict[str, np.ndarray], *, closed_loop_only: bool = False
             ) -> dict[str, dict]:
    """Returns metric -> n, median and p90 absolute % error over the points that report it (a figure none
    predicts counts as a 100% error); `closed_loop_only`: the rows with more than one output token only."""
    out = {}
    for metric in METRICS:
        errors = []
        for i, p in enumerate(points):
            if metric not in p.reported or (closed_loop_only and p.row.output_len <= 1):
                continue
            value = predicted[metric][i]
            errors.append(abs(value / p.reported[metric] - 1.0) * 100.0 if np.isfinite(value) else 100.0)
        out[metric] = {"n": len(errors),
                       "median_abs_pct_error": round(float(np.median(errors)), 2) if errors else None,
                       "p90_abs_pct_error": round(float(np.percentile(errors, 90)), 2) if errors else None}
    return out


def accuracy_report(points: list[Point], predicted: dict[str, np.ndarray]) -> dict[str, dict]:
    """Returns the accuracy over every usable row (`all`) and over the closed-loop rows alone (`closed_loop`)."""
    return {"all": accuracy(points, predicted), "closed_loop": accuracy(points, predicted, closed_loop_only=True)}


def leave_one_out(points: list[Point], start: CostParams) -> dict[str, np.ndarray]:
    """Returns metric -> per-point prediction, each point predicted by a fit on all the others."""
    out = {m: np.full(len(points), np.nan) for m in METRICS}
    for i in range(len(points)):
        rest = points[:i] + points[i + 1:]
        params = with_rngd(start, fit(rest, start).values)
        one = predict([points[i]], params)
        for m in METRICS:
            out[m][i] = one[m][0]
    return out


def write_params(params: CostParams, fitted: RngdFit, *, output: Path, data: Path, command: str,
                 in_sample: dict, held_out: dict | None) -> None:
    """Writes `params` with RNGD's fitted entries, their source and the fit's provenance to `output`."""
    sources = dict(params.sources)
    for name in fitted.values:
        shared = sources.get(name, "unknown").split("; rngd: ")[0]
        sources[name] = (f"{shared}; rngd: fitted by cost_models.rngd_fit on rngd_serving.csv (third-party Qwen3-4B-FP8 "
                         "serving on one RNGD card, furiosa-llm 2026.3.0; docs/cost-model.md section 6)")
    provenance = dict(params.provenance)
    provenance["rngd_fit"] = {
        "command": command,
        "data": str(data),
        "data_sha256": hashlib.sha256(data.read_bytes()).hexdigest(),
        "fitted": list(fitted.values),
        "fit": {"method": "scipy.optimize.least_squares, soft_l1 loss on log(predicted/measured), serving simulator",
                "converged": fitted.success, "residuals": fitted.residuals},
        "accuracy_on_fit_data": in_sample,
    } | ({"leave_one_row_out": held_out} if held_out is not None else {})
    shipped = replace(with_rngd(params, fitted.values), sources=sources, provenance=provenance)
    header = ("Cost-model parameters shared by every device, model and layout (docs/cost-model.md).\n"
              f"Produced by: {provenance.get('command', 'autotune calibrate')}\n"
              f"RNGD's own entries (key 'rngd') produced by: {command}")
    dump_params(shipped, output, header=header)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cost_models.rngd_fit",
                                     description="Fit RNGD's own serving parameters on measured RNGD serving runs.")
    parser.add_argument("csv", help="rngd_serving.csv (../shared/data/measurements/rngd_serving.csv)")
    parser.add_argument("--params", default=None, help="starting parameters (default: the shipped file)")
    parser.add_argument("--write", default=None, metavar="PARAMS.yaml", help="write the fitted parameters here")
    parser.add_argument("--cross-validate", action="store_true", help="also leave-one-row-out accuracy")
    args = parser.parse_args(argv)
    data = Path(args.csv)
    if not data.is_file():
        print(f"error: {args.csv}: not a file (expected rngd_serving.csv)", file=sys.stderr)
        return 2
    try:
        start = load_params(args.params)
        points, excluded = usable_points(data)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    fitted = fit(points, start)
    params = with_rngd(start, fitted.values)
    report = {"rows_used": [p.row.row_id for p in points], "excluded": [list(e) for e in excluded],
              "fitted": fitted.values, "converged": fitted.success,
              "in_sample": accuracy_report(points, predict(points, params))}
    held_out = None
    if args.cross_validate:
        held_out = accuracy_report(points, leave_one_out(points, start))
        report["leave_one_row_out"] = held_out
        report["targets_median_pct"] = TARGETS_PCT
    if args.write:
        command = "python -m cost_models.rngd_fit ../shared/data/measurements/rngd_serving.csv" \
            + (" --cross-validate" if args.cross_validate else "") + f" --write {args.write}"
        write_params(start, fitted, output=Path(args.write), data=data, command=command,
                     in_sample=report["in_sample"], held_out=held_out)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
