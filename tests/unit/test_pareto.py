"""Pareto fronts by epsilon-constraint equal the brute-force non-dominated subset."""
from __future__ import annotations

import numpy as np
import pytest

from autotune.solver.pareto_front import AXES, front_levels, non_dominated_rows, pareto_rows
from tests.unit.solver_tables import random_problem


@pytest.mark.parametrize("axes", sorted(AXES))
@pytest.mark.parametrize("seed", range(8))
def test_front_equals_brute_force(axes, seed):
    problem = random_problem(seed, rows=60, ties=seed % 2 == 0)
    status, rows = pareto_rows(problem, axes)
    assert status == "OPTIMAL"
    assert rows == non_dominated_rows(problem, axes)


def test_front_points_are_mutually_non_dominated_and_sorted():
    problem = random_problem(7, rows=100)
    _, rows = pareto_rows(problem)
    levels = front_levels(problem, "tpot-throughput")
    tpot = levels.latency.values[rows]
    thr = levels.throughput.values[rows]
    assert np.all(np.diff(tpot) > 0) and np.all(np.diff(thr) > 0)
    feasible = np.flatnonzero(problem.feasible)
    for row in rows:
        dominated = ((levels.latency.values[feasible] <= levels.latency.values[row])
                     & (levels.throughput.values[feasible] >= levels.throughput.values[row])
                     & ((levels.latency.values[feasible] < levels.latency.values[row])
                        | (levels.throughput.values[feasible] > levels.throughput.values[row])))
        assert not dominated.any()


def test_empty_front_is_infeasible():
    problem = random_problem(2, tpot_ms=1.0)
    assert pareto_rows(problem) == ("INFEASIBLE", [])
