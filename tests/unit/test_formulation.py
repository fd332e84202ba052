"""The CP-SAT formulation: integer tables, lexicographic levels, the limit model."""
from __future__ import annotations

import numpy as np
import pytest
from ortools.sat.python import cp_model

from autotune.solver.formulation import (THROUGHPUT_SCALE, TIME_SCALE_PER_S, build_limit_model, build_selection_model,
                                  integer_tables, objective_levels, rank_order)
from tests.unit.solver_tables import random_problem


def test_integer_tables_use_the_named_scales():
    problem = random_problem(0)
    tables = integer_tables(problem.table)
    assert tables.tpot_us[3] == round(problem.table.tpot_s[3] * TIME_SCALE_PER_S)
    assert tables.ttft_us[5] == round(problem.table.ttft_s[5] * TIME_SCALE_PER_S)
    assert tables.throughput_milli_tokens_per_s[7] == round(problem.table.throughput_tokens_per_s[7]
                                                           * THROUGHPUT_SCALE)
    assert tables.tpot_us.dtype == np.int64


def test_integer_tables_clip_infinities_instead_of_overflowing():
    problem = random_problem(0, rows=4)
    table = problem.table
    object.__setattr__(table, "tpot_s", np.array([np.inf, 1.0, np.nan, 0.5]))
    tables = integer_tables(table)
    assert tables.tpot_us[1] == 1_000_000
    assert tables.tpot_us[0] >= tables.tpot_us[1]


def test_throughput_levels_break_ties_by_devices_then_tpot_then_row():
    levels = objective_levels("throughput", integer_tables(random_problem(0).table))
    assert [(lv.name, lv.maximize) for lv in levels] == [
        ("throughput_milli_tokens_per_s", True), ("devices_used", False), ("tpot_us", False), ("row_index", False)]


def test_unknown_objective_is_rejected_by_name():
    with pytest.raises(ValueError, match="objective 'speed'"):
        objective_levels("speed", integer_tables(random_problem(0).table))


def test_rank_order_sorts_lexicographically():
    problem = random_problem(3, ties=True)
    levels = objective_levels("throughput", integer_tables(problem.table))
    order = rank_order(levels, np.arange(len(problem.candidates)))
    keys = [tuple((-lv.values[r] if lv.maximize else lv.values[r]) for lv in levels) for r in order]
    assert keys == sorted(keys)


def test_selection_model_names_variables_by_layout():
    problem = random_problem(1, rows=5)
    c = problem.candidates
    selection = build_selection_model(rows=np.arange(5), tp=c.tp, pp=c.pp, dp=c.dp, batch=c.batch)
    assert selection.use[0].name == f"use_tp{c.tp[0]}_pp{c.pp[0]}_dp{c.dp[0]}_b{c.batch[0]}"


def test_selection_model_without_rows_is_infeasible():
    c = random_problem(1, rows=3).candidates
    selection = build_selection_model(rows=np.array([], dtype=np.int64), tp=c.tp, pp=c.pp, dp=c.dp, batch=c.batch)
    solver = cp_model.CpSolver()
    assert solver.solve(selection.model) == cp_model.INFEASIBLE


def test_limit_model_needs_every_broken_limit_released():
    # Row 0 breaks a and b, row 1 breaks b only: enforcing b alone excludes both rows.
    violations = {"a": np.array([True, False]), "b": np.array([True, True])}
    limit_model = build_limit_model(violations)
    solver = cp_model.CpSolver()
    limit_model.model.add_assumptions([limit_model.literals["b"]])
    assert solver.solve(limit_model.model) == cp_model.INFEASIBLE
    limit_model.model.clear_assumptions()
    limit_model.model.add_assumptions([limit_model.literals["a"]])
    assert solver.solve(limit_model.model) == cp_model.OPTIMAL
