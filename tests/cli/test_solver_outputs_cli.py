"""Output flags of the solver commands: --emit settings, --csv and --plot files, through the real entry point."""
from __future__ import annotations

import csv
import io

from autotune.commands.output_args import EMIT_FORMATS
from tests.cli.solver_cli import autotune


def test_emit_formats_match_the_emitters():
    from autotune.outputs.emit import FORMATS
    assert EMIT_FORMATS == FORMATS


def test_recommend_emit_furiosa_adds_the_release_settings_to_json_and_text():
    args = ("recommend", "--model", "llama-3.1-70b", "--cards", "4", "--space", "furiosa-2024.2", "--emit", "furiosa")
    run = autotune(*args, "--json")
    assert run.code == 0, run.stderr
    rec = run.json()["recommendations"][0]
    assert rec["settings"]["format"] == "furiosa"
    assert "furiosa-llm" in rec["settings"]["text"]
    assert f"-tp {rec['tensor_parallel_size']}" in rec["settings"]["text"]
    human = autotune(*args)
    assert "settings for #1 (furiosa):" in human.stdout and "furiosa-llm" in human.stdout


def test_emit_of_a_gpu_format_for_an_rngd_plan_is_bad_input():
    run = autotune("recommend", "--model", "llama-3.1-8b", "--cards", "1", "--emit", "vllm")
    assert run.code == 2 and len(run.stderr.strip().splitlines()) == 1 and "--emit" in run.stderr
    assert run.stdout == ""  # nothing half printed


def test_enumerate_csv_to_stdout_round_trips():
    run = autotune("enumerate", "--model", "llama-3.1-8b", "--cards", "1", "--feasible-only", "--csv", "-")
    assert run.code == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    assert rows and all(r["feasible"] == "true" for r in rows)
    listing = autotune("enumerate", "--model", "llama-3.1-8b", "--cards", "1", "--feasible-only", "--json").json()
    assert len(rows) == len(listing["candidates"])
    assert int(rows[0]["tensor_parallel_size"]) == listing["candidates"][0]["tensor_parallel_size"]


def test_csv_to_stdout_with_json_is_refused():
    run = autotune("pareto", "--model", "llama-3.1-8b", "--cards", "1", "--csv", "-", "--json")
    assert run.code == 2 and "--csv" in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_pareto_plot_and_csv_files(tmp_path):
    png, table = tmp_path / "front.png", tmp_path / "front.csv"
    run = autotune("pareto", "--model", "llama-3.1-8b", "--cards", "2", "--plot", str(png), "--csv", str(table))
    assert run.code == 0, run.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader(table.open()))
    assert len(rows) >= 2
    assert f"plot: {png}" in run.stdout


def test_sweep_plot_svg_and_emit_per_point(tmp_path):
    svg = tmp_path / "sweep.svg"
    run = autotune("sweep", "--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--devices", "1,2",
                   "--emit", "vllm", "--plot", str(svg), "--json")
    assert run.code == 0, run.stderr
    points = run.json()["points"]
    assert all("vllm serve" in p["recommendation"]["settings"]["text"] for p in points)
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))
