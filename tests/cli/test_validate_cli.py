"""`autotune validate` and `autotune calibrate` through the real entry point."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from autotune.commands.validate import render
from cost_models.params import load_params

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "cost_models" / "data"
METRIC_KEYS = {"n", "median_abs_pct_error", "p90_abs_pct_error"}


def autotune(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Runs `python -m autotune`; from `cwd` (not the repository) the checkout is put on the path explicitly."""
    env = None
    if cwd is not None:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, "-m", "autotune", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=env)


def small_csv(tmp_path: Path) -> Path:
    """Writes 40 calibration rows plus: one variable-length row, one unknown model, one config.json path."""
    with open(DATA / "calibration.csv", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames
        rows = [r for r in reader][:40]
    variable = dict(rows[0], row_id="v1", input_len="mixed")
    unknown = dict(rows[0], row_id="u1", model_id="nobody/NoSuchModel-1B")
    local = dict(rows[0], row_id="c1", model_id="local/config.json")
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "config.json").write_text(
        (Path(__file__).resolve().parents[2] / "autotune" / "presets" / "models" / "llama-3.1-70b.json").read_text())
    path = tmp_path / "m.csv"
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows + [variable, unknown, local])
    return path


def test_validate_json_keys_and_skipped_rows(tmp_path):
    out = autotune("validate", "--measurements", str(small_csv(tmp_path)), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["rows_used"] == 41            # 40 rows + the config.json row
    assert data["rows_skipped"] == 2
    for metric in ("throughput", "ttft", "tpot"):
        assert set(data[metric]) == METRIC_KEYS
    assert data["throughput"]["n"] == 41
    assert "spearman_within_groups" in data
    assert set(data["by_hardware"]) == {"a100-sxm-80g", "h100-sxm", "l40s"}
    for entry in data["by_hardware"].values():
        assert {"throughput", "ttft", "tpot", "spearman_within_groups"} <= set(entry)


def test_validate_json_says_which_way_each_model_is_off():
    # docs/cost-model.md, "MoE parallelism": the shipped parameters on builtin:moe, by model (median absolute
    # throughput error), and the sign that tells DeepSeek-R1 (over-predicted) from Llama 4 Maverick (under).
    out = autotune("validate", "--measurements", "builtin:moe", "--json")
    assert out.returncode == 0, out.stderr
    by_model = json.loads(out.stdout)["by_model"]
    median = {name: entry["throughput"]["median_abs_pct_error"] for name, entry in by_model.items()}
    assert median == {"Qwen/Qwen3-235B-A22B": 10.89, "Qwen/Qwen3-30B-A3B": 22.88, "deepseek-ai/DeepSeek-V3": 23.28,
                      "meta-llama/Llama-4-Maverick-17B-128E-Instruct": 28.08}
    assert sum(entry["rows"] for entry in by_model.values()) == 63
    assert by_model["deepseek-ai/DeepSeek-V3"]["throughput_median_signed_pct_error"] > 20
    assert by_model["meta-llama/Llama-4-Maverick-17B-128E-Instruct"]["throughput_median_signed_pct_error"] < -20


def test_validate_human_table(tmp_path):
    out = autotune("validate", "--measurements", str(small_csv(tmp_path)))
    assert out.returncode == 0
    assert "rows used 41, skipped 2" in out.stdout
    assert max(len(line) for line in out.stdout.splitlines()) <= 100


def test_validate_missing_file_is_one_line(tmp_path):
    out = autotune("validate", "--measurements", str(tmp_path / "absent.csv"))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1


def test_calibrate_writes_a_loadable_parameter_file(tmp_path):
    target = tmp_path / "fit.yaml"
    out = autotune("calibrate", "--measurements", str(small_csv(tmp_path)), "--hardware", "h100-sxm",
                   "-o", str(target))
    assert out.returncode == 0, out.stderr
    params = load_params(target)
    assert params.provenance["rows_used"] > 0
    assert "--hardware h100-sxm" in params.provenance["command"]
    assert "fitted" in params.sources["bandwidth_efficiency"]


def test_calibrate_unknown_hardware_is_exit_2(tmp_path):
    out = autotune("calibrate", "--measurements", str(small_csv(tmp_path)), "--hardware", "nope",
                   "-o", str(tmp_path / "x.yaml"))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1


def test_validate_names_the_shipped_files_from_another_directory(tmp_path):
    out = autotune("validate", "--measurements", "builtin:calibration", "--measurements", "builtin:extra",
                   "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["rows_used"], data["rows_skipped"]) == (532 + 786, 0)


def test_an_unknown_builtin_name_is_exit_2_naming_the_known_ones(tmp_path):
    out = autotune("validate", "--measurements", "builtin:nope", cwd=tmp_path)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "builtin:nope" in out.stderr and "builtin:calibration" in out.stderr and "builtin:extra" in out.stderr


def test_help_lists_the_builtin_names():
    for command in ("validate", "calibrate"):
        out = autotune(command, "--help")
        assert "builtin:calibration" in out.stdout and "builtin:extra" in out.stdout, command


def test_cross_validation_json_and_table(tmp_path):
    # Leave one hardware out over calibration.csv: three folds, a few seconds.
    out = autotune("validate", "--measurements", "builtin:calibration", "--cross-validate", "hardware", "--json",
                   cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    cv = json.loads(out.stdout)["cross_validation"]
    assert cv["mode"] == "hardware"
    assert [f["name"] for f in cv["folds"]] == ["a100-sxm-80g", "h100-sxm", "l40s"]
    assert [f["rows_held_out"] for f in cv["folds"]] == [148, 275, 109]
    for metric in ("throughput", "ttft", "tpot"):
        assert set(cv["pooled"][metric]) == METRIC_KEYS
        assert cv["pooled"][metric]["n"] == sum(f[metric]["n"] for f in cv["folds"])
    assert cv["pooled"]["throughput"]["n"] == 484
    table = render(json.loads(out.stdout))      # what the command prints without --json
    assert "out of sample: leave one hardware out" in table and "pooled" in table
    assert "* l40s: no row of its fit depends on comm_bandwidth_efficiency_pcie" in table
    assert max(len(line) for line in table.splitlines()) <= 100


def test_kfold_flags_are_checked(tmp_path):
    path = str(small_csv(tmp_path))
    for args in (("--cross-validate", "hardware", "--seed", "3"), ("--cross-validate", "kfold", "--folds", "1"),
                 ("--cross-validate", "kfold", "--folds", "500")):
        out = autotune("validate", "--measurements", path, *args)
        assert out.returncode == 2, args
        assert len(out.stderr.strip().splitlines()) == 1, args


def test_calibrate_refuses_to_overwrite_its_measurements(tmp_path):
    path = small_csv(tmp_path)
    before = path.read_bytes()
    # The same file spelled another way (relative to another directory) is still the same file.
    out = autotune("calibrate", "--measurements", str(path), "--hardware", "h100-sxm", "-o", "m.csv", cwd=tmp_path)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1
    assert "-o" in out.stderr and "m.csv" in out.stderr
    assert path.read_bytes() == before


def test_calibrate_may_write_over_its_params_file(tmp_path):
    # The documented chain writes each step over the file it started from.
    params = tmp_path / "p.yaml"
    params.write_text((ROOT / "cost_models" / "params" / "default.yaml").read_text())
    out = autotune("calibrate", "--measurements", str(small_csv(tmp_path)), "--hardware", "h100-sxm",
                   "--fit", "bandwidth_efficiency", "--params", str(params), "-o", str(params))
    assert out.returncode == 0, out.stderr
    assert load_params(params).provenance["previous"]


def test_calibrate_chain_from_another_directory(tmp_path):
    target = tmp_path / "chain.yaml"
    out = autotune("calibrate", "--chain", "--measurements", "builtin:calibration", "--measurements",
                   "builtin:extra", "-o", str(target), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    params = load_params(target)
    assert [step["fitted"][0] for step in params.provenance["chain"]] == [
        "compute_efficiency_16bit", "layer_overhead_s", "compute_efficiency_4bit"]
    assert params.provenance["passes"] == 2
    assert "measurements_extra.csv (fp4 rows)" in params.sources["compute_efficiency_4bit"]
    assert "calibration.csv" in params.sources["bandwidth_efficiency"]


def test_calibrate_chain_refuses_one_step_flags(tmp_path):
    out = autotune("calibrate", "--chain", "--measurements", "builtin:calibration", "--fit", "bandwidth_efficiency",
                   "-o", str(tmp_path / "x.yaml"))
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "--fit" in out.stderr
