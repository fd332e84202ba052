"""Exact Pareto fronts over every feasible row (every layout at every integer batch).

Two fronts, both "lower TPOT is better" against "more throughput is better":
- `tpot-throughput`: TPOT against output tokens/s over all replicas;
- `user-card`: per-user tokens/s (1 / TPOT, so the same order as TPOT) against tokens/s per device.

Method: a skyline pass. A row is on the front iff no feasible row is at least as good on both
axes (integer microseconds, milli-tokens/s) and better on one; sorting the rows by latency, then
throughput, decides that for all rows at once, so the front is exact by construction. One
configuration stands for each non-dominated (TPOT, throughput) pair, chosen by the solver's
tie-breaks (fewer devices, then the lowest row). An earlier version re-proved every point with a
CP-SAT epsilon-constraint solve; with every integer batch a row, fronts hold hundreds of points
and that loop took minutes while adding nothing the sorted pass does not already prove.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from autotune.solver.formulation import INFEASIBLE, OPTIMAL, ObjectiveLevel, integer_tables
from autotune.solver.search import Problem
from autotune.solver.solve import SolverSettings

AXES: dict[str, tuple[str, str]] = {
    "tpot-throughput": ("tpot_ms", "throughput_tokens_per_s"),
    "user-card": ("tokens_per_s_per_user", "throughput_tokens_per_s_per_device"),
}


@dataclass(frozen=True, kw_only=True)
class FrontLevels:
    """The integer tables of a front: the latency axis (minimised) and the throughput axis (maximised)."""

    latency: ObjectiveLevel
    throughput: ObjectiveLevel
    devices: ObjectiveLevel
    row: ObjectiveLevel


def front_levels(problem: Problem, axes: str) -> FrontLevels:
    """Returns the integer tables of the front named `axes`."""
    if axes not in AXES:
        raise ValueError(f"axes {axes!r} is not one of {', '.join(AXES)}")
    t = integer_tables(problem.table)
    throughput = (t.throughput_milli_tokens_per_s if axes == "tpot-throughput"
                  else t.throughput_per_device_milli_tokens_per_s)
    return FrontLevels(latency=ObjectiveLevel(name="tpot_us", maximize=False, values=t.tpot_us),
                       throughput=ObjectiveLevel(name="throughput", maximize=True, values=throughput),
                       devices=ObjectiveLevel(name="devices_used", maximize=False, values=t.devices_used),
                       row=ObjectiveLevel(name="row_index", maximize=False, values=t.row_index))


def pareto_rows(problem: Problem, axes: str = "tpot-throughput", *,
                settings: SolverSettings | None = None) -> tuple[str, list[int]]:
    """Returns (status, rows on the front), lowest TPOT first: OPTIMAL (exact) or INFEASIBLE (nothing fits).

    `settings` is accepted for the API's symmetry; the sorted pass needs no time limit.
    """
    del settings
    rows = non_dominated_rows(problem, axes)
    return (OPTIMAL if rows else INFEASIBLE), rows


def non_dominated_rows(problem: Problem, axes: str = "tpot-throughput") -> list[int]:
    """Returns the brute-force front over feasible rows (for tests and `enumerate` checks), lowest TPOT first.

    One row per non-dominated (TPOT, throughput) pair, chosen by the solver's tie-breaks.
    """
    levels = front_levels(problem, axes)
    rows = np.flatnonzero(problem.feasible)
    lat = levels.latency.values
    thr = levels.throughput.values
    order = rows[np.lexsort((levels.row.values[rows], levels.devices.values[rows], lat[rows], -thr[rows]))]
    front: list[int] = []
    best_latency = None
    for row in order.tolist():
        # Walking by throughput descending, a row is on the front iff it is strictly faster than every row before.
        if best_latency is None or lat[row] < best_latency:
            front.append(row)
            best_latency = lat[row]
    front.reverse()
    return front
