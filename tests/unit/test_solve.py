"""Solving: the best rows equal the brute-force order; statuses; the infeasibility core."""
from __future__ import annotations

import numpy as np
import pytest

from autotune.solver.formulation import OBJECTIVES, integer_tables, objective_levels, rank_order
from autotune.solver.solve import SolverSettings, best_rows, infeasible_core
from tests.unit.solver_tables import random_problem


@pytest.mark.parametrize("objective", OBJECTIVES)
@pytest.mark.parametrize("seed", range(6))
def test_top_three_equal_brute_force_order(objective, seed):
    problem = random_problem(seed, rows=50, tpot_ms=150, ties=seed % 2 == 1)
    status, rows = best_rows(problem, objective, top=3)
    order = rank_order(objective_levels(objective, integer_tables(problem.table)), np.flatnonzero(problem.feasible))
    c = problem.candidates
    first_per_layout = {}
    for row in order.tolist():  # runner-ups are other layouts, each at its own best row
        first_per_layout.setdefault((int(c.tp[row]), int(c.pp[row]), int(c.dp[row])), row)
    assert status == "OPTIMAL"
    assert rows == list(first_per_layout.values())[:3]


def test_recommended_rows_break_no_limit():
    problem = random_problem(11, rows=80, ttft_ms=2000, tpot_ms=120)
    _, rows = best_rows(problem, "throughput", top=5)
    assert rows
    for row in rows:
        assert problem.violations(row) == []
        assert problem.table.total_bytes[row] <= problem.table.capacity_bytes
        assert problem.table.tpot_s[row] * 1e3 <= 120


def test_nothing_fits_is_infeasible_with_no_rows():
    problem = random_problem(2, tpot_ms=1.0)  # every TPOT in the table is >= 5 ms
    status, rows = best_rows(problem, "throughput")
    assert (status, rows) == ("INFEASIBLE", [])


def test_top_k_stops_when_rows_run_out():
    problem = random_problem(4, rows=10, rule_density=0.0, capacity_gb=1000)
    status, rows = best_rows(problem, "latency", top=50)
    c = problem.candidates
    layouts = {(int(c.tp[r]), int(c.pp[r]), int(c.dp[r])) for r in range(10)}
    assert status == "OPTIMAL" and len(rows) == len(layouts)


def test_time_limit_is_accepted_and_status_is_a_name():
    problem = random_problem(5, rows=30)
    status, rows = best_rows(problem, "e2e", settings=SolverSettings(time_limit_s=5.0))
    assert status in ("OPTIMAL", "FEASIBLE") and len(rows) == 1


def test_core_names_the_single_limit_that_excludes_everything():
    problem = random_problem(1, tpot_ms=1.0)
    assert infeasible_core(problem.violation_masks()) == ("slo_tpot",)


def test_core_is_minimal_and_jointly_infeasible():
    # a excludes rows 0-1, b rows 2-3, c row 0 only: {a, b} is the minimal core.
    violations = {"a": np.array([1, 1, 0, 0], bool), "b": np.array([0, 0, 1, 1], bool),
                  "c": np.array([1, 0, 0, 0], bool)}
    assert infeasible_core(violations) == ("a", "b")


def test_core_is_empty_when_a_row_fits():
    assert infeasible_core({"a": np.array([True, False])}) == ()
