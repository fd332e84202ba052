"""Out-of-sample accuracy: refit the parameters without a fold's rows, then predict that fold.

Two ways to split the rows:
- `kfold`: k folds of whole groups. A group is one model, hardware, weight format and input/output
  lengths, over every layout, batch, load type and file: rows of one group share most of what the
  model predicts from (often the same runs at another batch or TP), so a row whose group sits in
  the fit set would be predicted nearly in sample. Groups are shuffled with the seed and dealt, in
  that order, to the fold holding the fewest rows so far (folds of near-equal size).
- `hardware`: leave one hardware preset out; each device is predicted from parameters fitted on
  the others only.

Each fold's parameters come from `calibration.fit_chain`, the chain that produced the shipped
parameters, started from the same parameters the chain starts from (`start`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cost_models.calibration import CHAIN_PASSES, FIT_CHAIN, FitStep, fit_chain
from cost_models.measurements import MeasuredRow
from cost_models.params import CostParams
from cost_models.regimes import aligned, prepare
from cost_models.validation import METRICS, abs_pct_errors, metric_summary, spearman_within_groups

MODES = ("kfold", "hardware")

#: What a k-fold group holds together, in words (the report states it).
GROUPING = "model, hardware, dtype, input and output lengths (every layout, batch, load type and file)"


@dataclass(frozen=True, kw_only=True)
class Fold:
    """One fold: its name and the indices (into the pooled rows) it holds out."""

    name: str
    held_out: np.ndarray


def fold_group_key(row: MeasuredRow) -> tuple:
    """Returns the k-fold group of a row: model, hardware, dtype, input and output lengths."""
    return (row.model.name, row.hardware_key, row.dtype, row.input_len, row.output_len)


def kfold_folds(rows: Sequence[MeasuredRow], *, folds: int, seed: int) -> list[Fold]:
    """Returns `folds` folds of whole groups, dealt in a seeded random order to the smallest fold so far."""
    groups: dict[tuple, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(fold_group_key(row), []).append(i)
    keys = sorted(groups, key=repr)
    order = np.random.default_rng(seed).permutation(len(keys))
    members: list[list[int]] = [[] for _ in range(folds)]
    for k in order:
        smallest = min(range(folds), key=lambda f: (len(members[f]), f))
        members[smallest] += groups[keys[k]]
    return [Fold(name=f"fold {f + 1}", held_out=np.array(sorted(m), dtype=int)) for f, m in enumerate(members)]


def hardware_folds(rows: Sequence[MeasuredRow]) -> list[Fold]:
    """Returns one fold per hardware preset (sorted by name), holding out that device's rows."""
    names = np.array([r.hardware_key for r in rows])
    return [Fold(name=n, held_out=np.flatnonzero(names == n)) for n in sorted(set(names.tolist()))]


def cross_validate(data: Mapping[str, Sequence[MeasuredRow]], start: CostParams, *, mode: str, folds: int = 5,
                   seed: int = 0, steps: tuple[FitStep, ...] = FIT_CHAIN, passes: int = CHAIN_PASSES
                   ) -> dict[str, Any]:
    """Returns the `cross_validation` report: per fold and pooled accuracy of held-out predictions.

    `data` maps each measurement set's builtin name (the chain's steps select by it) to its rows;
    the rows of every set are pooled, split into folds, and each fold is predicted with the
    parameters `fit_chain` reaches from `start` on the other folds' rows. Raises ValueError when
    the rows cannot be split so (fewer groups or devices than folds).
    """
    roles = [name for name in data for _ in data[name]]
    rows = [row for name in data for row in data[name]]
    if mode == "kfold":
        groups = len({fold_group_key(r) for r in rows})
        if folds < 2 or groups < folds:
            raise ValueError(f"{folds} folds need at least {max(folds, 2)} groups of rows; the rows form {groups}")
        plan = kfold_folds(rows, folds=folds, seed=seed)
    elif mode == "hardware":
        plan = hardware_folds(rows)
        if len(plan) < 2:
            raise ValueError(f"leaving one hardware out needs rows of at least 2 devices; the rows have {len(plan)}")
    else:
        raise ValueError(f"unknown cross-validation mode {mode!r}; expected one of {', '.join(MODES)}")

    count = len(rows)
    predicted = {m: np.full(count, np.nan) for m in METRICS}
    measured = {m: np.full(count, np.nan) for m in METRICS}
    entries = []
    for fold in plan:
        held = np.zeros(count, dtype=bool)
        held[fold.held_out] = True
        fit_data = {name: [r for r, role, out in zip(rows, roles, held) if role == name and not out] for name in data}
        result = fit_chain(fit_data, start, steps=steps, passes=passes)
        held_rows = [rows[i] for i in fold.held_out]
        pairs = aligned(prepare(held_rows, result.params), result.params)
        for m in METRICS:
            predicted[m][fold.held_out], measured[m][fold.held_out] = pairs[m]
        fit_rows = {id(r) for step in steps for r in step.rows(fit_data)}
        entry: dict[str, Any] = {"name": fold.name, "rows_held_out": len(held_rows), "rows_fit": len(fit_rows)}
        if mode == "kfold":
            entry["groups_held_out"] = len({fold_group_key(r) for r in held_rows})
        entry.update({m: metric_summary(abs_pct_errors(*pairs[m])) for m in METRICS})
        entry["spearman_within_groups"] = spearman_within_groups(held_rows, *pairs["throughput"])["mean"]
        entry["held_fields"] = list(result.held)
        entry["unfitted_fields"] = list(result.unfitted)
        entry["fitted"] = {n: float(f"{result.params.value(n):.6g}") for s in steps for n in s.names}
        entries.append(entry)

    errors = {m: abs_pct_errors(predicted[m], measured[m]) for m in METRICS}
    pooled: dict[str, Any] = {m: metric_summary(errors[m]) for m in METRICS}
    spearman = spearman_within_groups(rows, predicted["throughput"], measured["throughput"])
    pooled["spearman_within_groups"] = spearman["mean"]
    pooled["spearman_groups"] = spearman["groups"]
    names = np.array([r.hardware_key for r in rows])
    pooled["by_hardware"] = {n: {m: metric_summary(errors[m][names == n]) for m in METRICS} | {
        "rows": int((names == n).sum())} for n in sorted(set(names.tolist()))}
    role_of = np.array(roles)
    pooled["by_data"] = {name: {m: metric_summary(errors[m][role_of == name]) for m in METRICS}
                         | {"rows": int((role_of == name).sum())} for name in data}
    load_types = np.array([r.load_type for r in rows])
    pooled["by_load_type"] = {t: {m: metric_summary(errors[m][load_types == t]) for m in METRICS}
                              | {"rows": int((load_types == t).sum())} for t in sorted(set(load_types.tolist()))}
    report: dict[str, Any] = {"mode": mode}
    if mode == "kfold":
        report.update(k=folds, seed=seed, grouping=GROUPING)
    report["chain"] = {"passes": passes, "steps": [
        {"data": s.data, "fitted": list(s.names)} | ({"dtype": s.dtype} if s.dtype else {})
        | ({"load_types": list(s.load_types)} if s.load_types else {}) for s in steps]}
    report["rows"] = count
    report["folds"] = entries
    report["pooled"] = pooled
    return report
