"""Accuracy of predictions against measurements: absolute % errors, percentiles, rank correlation."""
from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from autotune.specs.candidates import devices_used
from cost_models.measurements import MeasuredRow, SkippedRow
from cost_models.params import CostParams
from cost_models.regimes import PreparedRows, aligned, prepare

METRICS = ("throughput", "ttft", "tpot")

#: Configurations a group needs for its rank correlation to count (3: over two it is only a sign).
MIN_CONFIGS = 3


def abs_pct_errors(predicted: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Returns |predicted - measured| / measured x 100 where both exist (NaN elsewhere)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.abs(predicted - measured) / measured * 100.0


def metric_summary(errors: np.ndarray) -> dict[str, Any]:
    """Returns n, median and p90 of the finite absolute % errors (None when there are none)."""
    finite = errors[np.isfinite(errors)]
    if finite.size == 0:
        return {"n": 0, "median_abs_pct_error": None, "p90_abs_pct_error": None}
    return {"n": int(finite.size), "median_abs_pct_error": round(float(np.median(finite)), 2),
            "p90_abs_pct_error": round(float(np.percentile(finite, 90)), 2)}


def group_key(row: MeasuredRow) -> tuple:
    """Returns the group a row's throughput is ranked in: model, hardware, dtype, lengths, regime."""
    return (row.model_key, row.hardware_key, row.dtype, row.input_len, row.output_len, row.load_type)


def devices_of(row: MeasuredRow) -> int:
    """Returns the devices a measured configuration ran on (the rules' count)."""
    return int(devices_used(row.hardware, np.array([row.tp]), np.array([row.pp]), np.array([row.dp]))[0])


def spearman_within_groups(rows: list[MeasuredRow], predicted: np.ndarray, measured: np.ndarray, *,
                           per_device: bool = False, min_configs: int = MIN_CONFIGS) -> dict[str, Any]:
    """Returns the mean Spearman correlation of predicted vs measured throughput over groups.

    A group holds the configurations (tp, pp, dp, batch) of one model, device, dtype, lengths
    and regime; rows repeating a configuration (several published runs) are averaged first.
    Configurations are ranked by total output throughput, or by throughput per device
    (the efficiency a layout choice trades) when `per_device` is True.
    Groups of fewer than `min_configs` configurations, or whose values are all equal, are
    left out: over two items a rank correlation is only a sign (+1 or -1).
    """
    groups: dict[tuple, dict[tuple, list[int]]] = defaultdict(lambda: defaultdict(list))
    for i, row in enumerate(rows):
        if np.isfinite(predicted[i]) and np.isfinite(measured[i]):
            groups[group_key(row)][(row.tp, row.pp, row.dp, row.ep, row.adp, row.batch or 0)].append(i)
    values = []
    for configs in groups.values():
        if len(configs) < min_configs:
            continue
        scale = np.array([devices_of(rows[m[0]]) if per_device else 1 for m in configs.values()], dtype=float)
        p = np.array([np.mean(predicted[m]) for m in configs.values()]) / scale
        m = np.array([np.mean(measured[m]) for m in configs.values()]) / scale
        if np.ptp(p) == 0 or np.ptp(m) == 0:
            continue
        values.append(float(spearmanr(p, m).statistic))
    return {"groups": len(values), "mean": round(float(np.mean(values)), 4) if values else None}


def summarize(prepared: PreparedRows, params: CostParams) -> dict[str, Any]:
    """Returns per-metric accuracy and the within-group Spearman, overall and by hardware."""
    pairs = aligned(prepared, params)
    errors = {m: abs_pct_errors(*pairs[m]) for m in METRICS}
    report: dict[str, Any] = {m: metric_summary(errors[m]) for m in METRICS}
    spearman = spearman_within_groups(prepared.rows, *pairs["throughput"], per_device=False)
    report["spearman_within_groups"] = spearman["mean"]
    report["spearman_groups"] = spearman["groups"]
    report["spearman_within_groups_per_device"] = spearman_within_groups(
        prepared.rows, *pairs["throughput"], per_device=True)["mean"]
    pairs_too = spearman_within_groups(prepared.rows, *pairs["throughput"], min_configs=2)
    report["spearman_within_groups_incl_pairs"] = pairs_too["mean"]
    report["spearman_groups_incl_pairs"] = pairs_too["groups"]
    by_hw: dict[str, Any] = {}
    names = np.array([r.hardware_key for r in prepared.rows])
    for name in sorted(set(names.tolist())):
        mask = names == name
        entry = {m: metric_summary(errors[m][mask]) for m in METRICS}
        idx = np.flatnonzero(mask)
        spearman = spearman_within_groups(
            [prepared.rows[i] for i in idx], pairs["throughput"][0][idx], pairs["throughput"][1][idx],
            per_device=False)
        entry["spearman_within_groups"] = spearman["mean"]
        entry["spearman_groups"] = spearman["groups"]
        entry["rows"] = int(mask.sum())
        by_hw[name] = entry
    report["by_hardware"] = by_hw
    report["by_model"] = _by_model(prepared.rows, errors, pairs["throughput"])
    return report


def _by_model(rows: list[MeasuredRow], errors: dict[str, np.ndarray],
              throughput: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Returns per model (Hugging Face id): rows, each metric's accuracy, and the median signed throughput error
    in % (positive: over-predicted), which says which way a model is off."""
    signed = (throughput[0] - throughput[1]) / throughput[1] * 100.0
    names = np.array([r.model_key for r in rows])
    out: dict[str, Any] = {}
    for name in sorted(set(names.tolist())):
        mask = names == name
        finite = mask & np.isfinite(signed)
        out[name] = {"rows": int(mask.sum())} | {m: metric_summary(errors[m][mask]) for m in METRICS} | {
            "throughput_median_signed_pct_error": round(float(np.median(signed[finite])), 2) if finite.any() else None}
    return out


def validate(rows: list[MeasuredRow], skipped: list[SkippedRow], params: CostParams) -> dict[str, Any]:
    """Returns the validation report: rows used/skipped (with reasons), accuracy per metric and hardware."""
    reasons: dict[str, int] = defaultdict(int)
    for s in skipped:
        reasons[s.reason] += 1
    report: dict[str, Any] = {"rows_used": len(rows), "rows_skipped": len(skipped),
                              "skipped_reasons": dict(sorted(reasons.items()))}
    if rows:
        report.update(summarize(prepare(rows, params), params))
    else:
        report.update({m: metric_summary(np.array([])) for m in METRICS})
        report["spearman_within_groups"] = None
        report["spearman_groups"] = 0
        report["by_hardware"] = {}
        report["by_model"] = {}
    return report
