"""`autotune hardware` through the real entry point: tables, JSON, sources, exit codes."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PRESETS = Path(__file__).resolve().parents[2] / "autotune" / "presets" / "hardware"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", "hardware", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def test_list_is_an_aligned_table_within_100_columns():
    result = run()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "UNITS", "MEMORY"]
    names = [line.split()[0] for line in lines[1:-1]]
    assert len(names) == 15 and "rngd" in names and "tpu-v5e" in names
    assert all(len(line) <= 100 for line in lines)
    rngd = next(line for line in lines if line.startswith("rngd"))
    assert "8 PE" in rngd and "48.0 GB" in rngd and "1.5 TB/s" in rngd


def test_list_rounds_capacities_to_a_tenth_of_a_gb():
    # a100-sxm-40g holds 40960 MiB (nvidia-smi) = 42,949,672,960 bytes: 42.9 GB, not "42.9497 GB".
    lines = run().stdout.splitlines()
    a100 = next(line for line in lines if line.startswith("a100-sxm-40g"))
    assert " 42.9 GB " in a100
    for line in lines[1:-1]:
        assert re.search(r"\s\d+\.\d GB\s", line), line


def test_list_json_is_one_document():
    result = run("--json")
    assert result.returncode == 0
    devices = json.loads(result.stdout)
    assert [d["name"] for d in devices] == sorted(d["name"] for d in devices)
    assert len(devices) == 15


def test_rngd_json_shows_8_pes_48_gb_1_5_tb_per_s_with_sources():
    # Done-when of issue 2: `autotune hardware rngd --json` shows 8 PEs, 48 GB and 1.5 TB/s with sources.
    result = run("rngd", "--json")
    assert result.returncode == 0 and result.stderr == ""
    facts = json.loads(result.stdout)
    assert facts["compute_units_per_device"] == 8 and facts["unit_name"] == "PE"
    assert facts["memory_capacity_bytes"] == 48e9
    assert facts["memory_bandwidth_bytes_per_s"] == 1.5e12
    assert "48 GB" in facts["sources"]["memory_capacity_bytes"]
    assert "1.5 TB/s" in facts["sources"]["memory_bandwidth_bytes_per_s"]
    assert "8" in facts["sources"]["compute_units_per_device"]
    assert facts["inter_device_link"]["bandwidth_bytes_per_s"] == 63e9
    assert facts["default_space"] == "furiosa-2026.4"


def test_rngd_text_names_every_figure_and_source_within_100_columns():
    result = run("rngd")
    assert result.returncode == 0
    text = result.stdout
    assert "48.0 GB per card (48,000,000,000 bytes)" in text and "1.5 TB/s per card" in text
    assert "8 PEs per card" in text
    assert "GiB" not in text.split("source:")[0]  # 48e9 bytes is decimal: no binary figure beside it


def test_a_capacity_the_driver_reports_in_mib_shows_gib_too():
    # The preset's source: nvidia-smi A100 40GB total 40960 MiB = 40 GiB.
    text = run("a100-sxm-40g").stdout
    assert "42.9 GB = 40.0 GiB per GPU (42,949,672,960 bytes)" in text
    assert "42.9497" not in text
    assert text.count("source:") >= 10
    assert all(len(line) <= 100 for line in text.splitlines())


@pytest.mark.parametrize("name", ["h100-sxm", "tpu-v5e", "gaudi3"])
def test_other_presets(name):
    result = run(name)
    assert result.returncode == 0
    assert result.stdout.startswith(f"{name}: ")
    assert all(len(line) <= 100 for line in result.stdout.splitlines())


def test_a_users_yaml_works_from_another_directory(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text((PRESETS / "l40s.yaml").read_text().replace("name: l40s", "name: my-l40s"))
    result = run(str(path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "my-l40s"


def _fails(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_unknown_preset_exits_2_with_did_you_mean():
    _fails(run("h100"), "did you mean", "h100-sxm")


def test_missing_file_exits_2(tmp_path):
    _fails(run(str(tmp_path / "none.yaml")), "none.yaml", "existing file")


def test_directory_exits_2(tmp_path):
    _fails(run(str(tmp_path) + "/"), "not a directory")


def test_bad_yaml_and_bad_values_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [x\n")
    _fails(run(str(bad)), "bad.yaml", "valid YAML")
    bad.write_text(re.sub(r"(?m)^memory_capacity_bytes: \S+", "memory_capacity_bytes: eighty",
                          (PRESETS / "h100-sxm.yaml").read_text()))
    _fails(run(str(bad)), "bad.yaml", "'memory_capacity_bytes'", "'eighty'")
    bad.write_text((PRESETS / "h100-sxm.yaml").read_text() + "nvlink_generation: 4\n")
    _fails(run(str(bad)), "'nvlink_generation'")
