"""`autotune validate` and `autotune calibrate` through the real entry point."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from cost_models.params import load_params

DATA = Path(__file__).resolve().parents[2] / "cost_models" / "data"
METRIC_KEYS = {"n", "median_abs_pct_error", "p90_abs_pct_error"}


def autotune(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", *args], capture_output=True, text=True, timeout=300)


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
