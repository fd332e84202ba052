"""A user's parameter file: `calibrate --hardware` writes it, `--params` or $AUTOTUNE_PARAMS applies it."""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from cost_models.params import load_params

ROOT = Path(__file__).resolve().parents[2]
ESTIMATE = ("estimate", "--model", "llama-3.1-8b", "--tp", "1", "--pp", "1", "--dp", "1", "--json")


def autotune(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", *args], capture_output=True, text=True, timeout=300,
                          env=None if env is None else dict(os.environ, **env))


def h100_csv(tmp_path: Path) -> Path:
    with open(ROOT / "cost_models" / "data" / "calibration.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["hardware_id"] == "h100-sxm" and r["tensor_parallel"] == "1"][:12]
        fields = reader.fieldnames
    path = tmp_path / "h100.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_calibrate_hardware_then_params_and_env_apply_it(tmp_path):
    mine = tmp_path / "mine.yaml"
    out = autotune("calibrate", "--measurements", str(h100_csv(tmp_path)), "--hardware", "h100-sxm",
                   "--fit", "bandwidth_efficiency,step_overhead_s", "-o", str(mine))
    assert out.returncode == 0, out.stderr
    assert "of h100-sxm's own" in out.stderr
    params = load_params(mine)
    assert set(params.hardware_values["h100-sxm"]) == {"bandwidth_efficiency", "step_overhead_s"}
    assert params.bandwidth_efficiency == load_params().bandwidth_efficiency
    assert params.provenance["hardware"] == "h100-sxm"

    shipped = autotune(*ESTIMATE, "--hardware", "h100-sxm")
    given = autotune(*ESTIMATE, "--hardware", "h100-sxm", "--params", str(mine))
    from_env = autotune(*ESTIMATE, "--hardware", "h100-sxm", env={"AUTOTUNE_PARAMS": str(mine)})
    assert shipped.returncode == given.returncode == from_env.returncode == 0
    assert given.stdout != shipped.stdout and from_env.stdout == given.stdout
    # Another device is priced as before.
    other = [autotune(*ESTIMATE, "--hardware", "a100-sxm-80g", *extra).stdout
             for extra in ((), ("--params", str(mine)))]
    assert other[0] == other[1]


def test_env_naming_a_missing_file_is_one_line_exit_2(tmp_path):
    out = autotune(*ESTIMATE, "--hardware", "h100-sxm", env={"AUTOTUNE_PARAMS": str(tmp_path / "nope.yaml")})
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and "AUTOTUNE_PARAMS" in out.stderr


def test_shared_fits_the_shared_values_on_the_hardwares_rows(tmp_path):
    target = tmp_path / "shared.yaml"
    out = autotune("calibrate", "--measurements", str(h100_csv(tmp_path)), "--hardware", "h100-sxm", "--shared",
                   "--fit", "bandwidth_efficiency", "-o", str(target))
    assert out.returncode == 0, out.stderr
    params = load_params(target)
    assert params.bandwidth_efficiency != load_params().bandwidth_efficiency
    assert "h100-sxm" not in params.hardware_values


def test_shared_without_hardware_and_mapping_fields_are_refused(tmp_path):
    csv_path = str(h100_csv(tmp_path))
    for extra, word in ((("--shared",), "--shared"),
                        (("--hardware", "h100-sxm", "--fit", "runtime_reserve_bytes.default"), "whole fields")):
        out = autotune("calibrate", "--measurements", csv_path, *extra, "-o", str(tmp_path / "x.yaml"))
        assert out.returncode == 2 and word in out.stderr and len(out.stderr.strip().splitlines()) == 1
