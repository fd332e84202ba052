"""The CP-SAT formulation: choose one candidate row; costs enter as scaled integer tables.

Rhythm (as in the OR-Tools samples): variables, constraints, objective, solve, read.

- Variables: one Boolean `use_tp{tp}_pp{pp}_dp{dp}[_ep{ep}_adp{adp}]_b{batch}` per candidate row that may be
  chosen (a layout is the five degrees; EP and ADP named when not 1).
- Constraints: exactly one row is used; limits (space rules, memory per device, SLOs) forbid
  rows; an objective level already optimised forbids the rows that miss its optimum.
- Objective: a weighted sum of the Booleans with one integer table (`TIME_SCALE_PER_S`,
  `THROUGHPUT_SCALE`), optimised level by level (lexicographic ties).

Every cost is a per-row constant, so a constraint on a selected table value (`value == best`,
`value <= epsilon`) is posted row-wise as `use_i == 0` for the rows that break it: the same
constraint, in the form CP-SAT propagates instantly (a single linear equality over 10^4
coefficients near 10^9 makes its presolve take seconds). The model stays open to more
decision variables (placement, mixed replicas): they link to the row Booleans.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from cost_models.table import CostTable

#: Times become integer microseconds.
TIME_SCALE_PER_S = 1_000_000
#: Throughputs become integer milli-tokens per second.
THROUGHPUT_SCALE = 1_000
#: Largest magnitude a table entry may take, so that sums over 10^5 rows stay far below 2^62.
_MAX_TABLE_VALUE = 10**12

OBJECTIVES: tuple[str, ...] = ("throughput", "latency", "ttft", "e2e")

#: CP-SAT status names as users see them.
OPTIMAL = "OPTIMAL"
FEASIBLE = "FEASIBLE"
INFEASIBLE = "INFEASIBLE"
UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, kw_only=True)
class IntegerTables:
    """The cost model's columns as int64 arrays, in the solver's named scales."""

    ttft_us: np.ndarray
    tpot_us: np.ndarray
    e2e_us: np.ndarray
    throughput_milli_tokens_per_s: np.ndarray
    throughput_per_device_milli_tokens_per_s: np.ndarray
    devices_used: np.ndarray
    row_index: np.ndarray


def integer_tables(table: CostTable) -> IntegerTables:
    """Returns the cost table scaled and rounded to int64 (times in us, throughput in milli-tokens/s)."""
    def scaled(values: np.ndarray, scale: int) -> np.ndarray:
        finite = np.where(np.isfinite(values), values, _MAX_TABLE_VALUE / scale)
        return np.clip(np.rint(finite * scale), 0, _MAX_TABLE_VALUE).astype(np.int64)

    rows = len(table.ttft_s)
    return IntegerTables(
        ttft_us=scaled(np.asarray(table.ttft_s, dtype=float), TIME_SCALE_PER_S),
        tpot_us=scaled(np.asarray(table.tpot_s, dtype=float), TIME_SCALE_PER_S),
        e2e_us=scaled(np.asarray(table.e2e_latency_s, dtype=float), TIME_SCALE_PER_S),
        throughput_milli_tokens_per_s=scaled(np.asarray(table.throughput_tokens_per_s, dtype=float),
                                             THROUGHPUT_SCALE),
        throughput_per_device_milli_tokens_per_s=scaled(
            np.asarray(table.throughput_tokens_per_s_per_device, dtype=float), THROUGHPUT_SCALE),
        devices_used=np.asarray(table.devices_used, dtype=np.int64),
        row_index=np.arange(rows, dtype=np.int64),
    )


@dataclass(frozen=True, kw_only=True)
class ObjectiveLevel:
    """One level of a lexicographic objective: a name, a sense and its integer table."""

    name: str
    maximize: bool
    values: np.ndarray


def objective_levels(objective: str, tables: IntegerTables) -> tuple[ObjectiveLevel, ...]:
    """Returns the levels of `objective`, most important first, ending with the row index.

    throughput: max output tokens/s over all replicas, then fewer devices, then lower TPOT.
    latency: min TPOT, then fewer devices, then higher throughput.
    ttft: min TTFT, then fewer devices, then lower TPOT.
    e2e: min end-to-end latency, then fewer devices, then higher throughput.
    The last level (lowest row index) makes the answer unique, so that it equals the first row
    of `enumerate`, which sorts by the same keys.
    """
    t = tables
    thr = ObjectiveLevel(name="throughput_milli_tokens_per_s", maximize=True,
                         values=t.throughput_milli_tokens_per_s)
    devices = ObjectiveLevel(name="devices_used", maximize=False, values=t.devices_used)
    tpot = ObjectiveLevel(name="tpot_us", maximize=False, values=t.tpot_us)
    ttft = ObjectiveLevel(name="ttft_us", maximize=False, values=t.ttft_us)
    e2e = ObjectiveLevel(name="e2e_us", maximize=False, values=t.e2e_us)
    row = ObjectiveLevel(name="row_index", maximize=False, values=t.row_index)
    levels = {
        "throughput": (thr, devices, tpot),
        "latency": (tpot, devices, thr),
        "ttft": (ttft, devices, tpot),
        "e2e": (e2e, devices, thr),
    }
    if objective not in levels:
        raise ValueError(f"objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    return levels[objective] + (row,)


def rank_order(levels: tuple[ObjectiveLevel, ...], rows: np.ndarray) -> np.ndarray:
    """Returns `rows` sorted best first by the lexicographic `levels` (the brute-force order)."""
    rows = np.asarray(rows, dtype=np.int64)
    # np.lexsort sorts by the last key first; a maximised key sorts by its negation.
    keys = [(-lv.values[rows] if lv.maximize else lv.values[rows]) for lv in reversed(levels)]
    return rows[np.lexsort(keys)]


@dataclass(kw_only=True)
class SelectionModel:
    """A CP-SAT model choosing exactly one row among `rows` of a candidate table."""

    model: cp_model.CpModel
    rows: np.ndarray
    """Candidate row indices that have a variable, ascending."""
    use: list[cp_model.IntVar]
    """`use[k]` is true when row `rows[k]` is chosen."""
    allowed: np.ndarray
    """`allowed[k]` is False once a constraint forbids row `rows[k]`."""

    def forbid(self, mask: np.ndarray) -> None:
        """Posts `use_k == 0` (one conjunction of negations) for every still-allowed row where `mask[k]` is true."""
        newly = np.flatnonzero(mask & self.allowed)
        if len(newly):
            self.model.add_bool_and([self.use[k].Not() for k in newly.tolist()])
        self.allowed[newly] = False

    def fix_level(self, level: ObjectiveLevel, best: int) -> None:
        """Posts `level == best`: the selected row's table value equals the level's optimum."""
        self.forbid(level.values[self.rows] != best)

    def bound(self, values: np.ndarray, *, at_most: int | None = None, at_least: int | None = None) -> None:
        """Posts `at_least <= value <= at_most` on the selected row's value (`values` over all rows)."""
        selected = values[self.rows]
        if at_most is not None:
            self.forbid(selected > at_most)
        if at_least is not None:
            self.forbid(selected < at_least)

    def set_objective(self, level: ObjectiveLevel) -> None:
        """Sets the objective: the level's table value of the selected row."""
        expr = cp_model.LinearExpr.weighted_sum(self.use, level.values[self.rows].tolist())
        if level.maximize:
            self.model.maximize(expr)
        else:
            self.model.minimize(expr)


def build_selection_model(*, rows: np.ndarray, tp: np.ndarray, pp: np.ndarray, dp: np.ndarray,
                          batch: np.ndarray, ep: np.ndarray | None = None,
                          adp: np.ndarray | None = None) -> SelectionModel:
    """Returns a model with one Boolean per row in `rows` and the exactly-one constraint.

    `tp`, `pp`, `dp`, `batch` (and `ep`, `adp`: None, all 1) are the full candidate columns (for readable
    variable names; a row's layout is all five degrees).
    """
    model = cp_model.CpModel()
    rows = np.asarray(rows, dtype=np.int64)

    def name(r: int) -> str:
        moe = ""
        if ep is not None and adp is not None and (ep[r] != 1 or adp[r] != 1):
            moe = f"_ep{ep[r]}_adp{adp[r]}"
        return f"use_tp{tp[r]}_pp{pp[r]}_dp{dp[r]}{moe}_b{batch[r]}"

    # Variables.
    use = [model.new_bool_var(name(r)) for r in rows.tolist()]
    # Constraints.
    if use:
        model.add_exactly_one(use)
    else:
        model.add_bool_or([])  # No row may be chosen: the model is infeasible, as it should be.
    return SelectionModel(model=model, rows=rows, use=use, allowed=np.ones(len(rows), dtype=bool))


@dataclass(frozen=True, kw_only=True)
class LimitModel:
    """The model behind "why nothing fits": one assumption literal per limit."""

    model: cp_model.CpModel
    literals: dict[str, cp_model.IntVar]
    """Limit id -> literal; assuming it true enforces the limit."""


def build_limit_model(violations: dict[str, np.ndarray]) -> LimitModel:
    """Returns a model that is infeasible exactly when every row breaks some enforced limit.

    `violations` maps a limit id to a Boolean array over rows. Rows with the same set of broken
    limits are interchangeable here, so one Boolean stands for each distinct set: choosing it
    requires that none of its broken limits is enforced.
    """
    model = cp_model.CpModel()
    ids = sorted(violations)
    literals = {limit_id: model.new_bool_var(f"enforce_{limit_id}") for limit_id in ids}
    if not ids:
        model.add_bool_or([model.new_bool_var("any_row")])
        return LimitModel(model=model, literals=literals)
    matrix = np.stack([np.asarray(violations[i], dtype=bool) for i in ids], axis=1)
    signatures = np.unique(matrix, axis=0)
    choices = []
    for signature in signatures:
        broken = [ids[j] for j in np.flatnonzero(signature)]
        choice = model.new_bool_var("rows_breaking_" + ("+".join(broken) or "nothing"))
        for limit_id in broken:
            model.add_implication(choice, literals[limit_id].Not())
        choices.append(choice)
    model.add_exactly_one(choices)
    return LimitModel(model=model, literals=literals)
