"""`autotune pareto`, `sweep` and `enumerate` through the real entry point."""
from __future__ import annotations

from tests.cli.solver_cli import autotune


def test_pareto_json_points_are_sorted_and_non_dominated():
    run = autotune("pareto", "--model", "llama-3.1-70b", "--cards", "8", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["status"] == "OPTIMAL"
    points = out["points"]
    assert len(points) >= 2
    tpot = [p["tpot_ms"] for p in points]
    thr = [p["throughput_tokens_per_s"] for p in points]
    assert tpot == sorted(tpot) and thr == sorted(thr)
    assert all({"tensor_parallel_size", "batch_size", "cards_used"} <= set(p) for p in points)


def test_pareto_user_card_axes():
    run = autotune("pareto", "--model", "llama-3.1-8b", "--cards", "4", "--axes", "user-card", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    assert out["axes"] == ["tokens_per_s_per_user", "throughput_tokens_per_s_per_device"]
    per_card = [p["throughput_tokens_per_s_per_device"] for p in out["points"]]
    assert per_card == sorted(per_card)


def test_sweep_over_cards_gives_one_point_per_count():
    run = autotune("sweep", "--model", "llama-3.1-70b", "--cards", "1,2,4,8", "--json")
    assert run.code == 0, run.stderr
    points = run.json()["points"]
    assert [p["cards"] for p in points] == [1, 2, 4, 8]
    assert "reasons" in points[0] and points[0]["status"] == "INFEASIBLE"  # 141 GB of bf16 weights on 48 GB
    assert points[-1]["recommendation"]["cards_used"] <= 8
    assert run.stderr == ""  # no progress bar when stderr is not a terminal


def test_sweep_over_dtypes_and_jobs_matches_serial():
    args = ("sweep", "--model", "llama-3.1-8b", "--cards", "1..3", "--dtypes", "bf16,fp8", "--json")
    serial = autotune(*args)
    parallel = autotune(*args, "--jobs", "2")
    assert serial.code == parallel.code == 0, serial.stderr + parallel.stderr
    assert serial.stdout == parallel.stdout
    points = serial.json()["points"]
    assert [(p["dtype"], p["cards"]) for p in points] == [("bf16", 1), ("bf16", 2), ("bf16", 3),
                                                          ("fp8", 1), ("fp8", 2), ("fp8", 3)]


def test_sweep_bad_range_is_one_line():
    run = autotune("sweep", "--model", "llama-3.1-8b", "--cards", "8..1")
    assert run.code == 2 and len(run.stderr.strip().splitlines()) == 1 and "--cards" in run.stderr


def test_enumerate_lists_feasible_and_infeasible_rows_with_violations():
    run = autotune("enumerate", "--model", "llama-3.1-8b", "--cards", "4", "--space", "furiosa-2024.2", "--json")
    assert run.code == 0, run.stderr
    out = run.json()
    rows = out["candidates"]
    feasible = [r for r in rows if r["feasible"]]
    assert len(feasible) == out["feasible_count"] > 0
    assert all(r["feasible"] for r in rows[:len(feasible)])  # feasible rows come first
    assert any("TP 2 not allowed by furiosa-2024.2" in v for r in rows for v in r["violations"])
    best = autotune("recommend", "--model", "llama-3.1-8b", "--cards", "4", "--space", "furiosa-2024.2", "--json")
    first = best.json()["recommendations"][0]
    first.pop("binding_limits", None)
    assert {k: rows[0][k] for k in first} == first


def test_enumerate_human_output_fits_100_columns():
    run = autotune("enumerate", "--model", "llama-3.1-8b", "--cards", "2", "--limit", "30")
    assert run.code == 0, run.stderr
    assert max(len(line) for line in run.stdout.splitlines()) <= 100
    assert "showing 30" in run.stdout


def test_help_states_defaults():
    run = autotune("recommend", "--help")
    assert run.code == 0
    assert "default: 2048" in run.stdout and "throughput" in run.stdout
