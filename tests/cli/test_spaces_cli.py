"""`autotune spaces` through the real entry point: tables, rules, JSON, exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", "spaces", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def test_list_is_an_aligned_table_within_100_columns():
    result = run()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("NAME")
    assert [line.split()[0] for line in lines[1:-1]] == ["furiosa-2024.2", "furiosa-2025.2", "furiosa-2025.3",
                                                         "furiosa-2026.3", "furiosa-2026.4", "gpu"]
    assert all(len(line) <= 100 for line in lines)


def test_list_json():
    result = run("--json")
    assert result.returncode == 0
    spaces = json.loads(result.stdout)
    assert {s["name"] for s in spaces} >= {"furiosa-2024.2", "gpu"}


def test_one_space_in_words():
    result = run("furiosa-2024.2")
    assert result.returncode == 0
    text = result.stdout
    assert "4, 8 PEs" in text and "equal to the fleet's PEs" in text and "distinct cards" in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_one_space_json_has_release_runtime_and_rules():
    facts = json.loads(run("furiosa-2026.3", "--json").stdout)
    assert facts["release"] == "2026.3" and facts["runtime"] == "furiosa" and facts["tp_unit"] == "pe"
    assert facts["tensor_parallel"]["sizes"] == [4, 8, 32]
    assert facts["replica"]["max_devices"] == 8
    assert facts["defaults"]["tensor_parallel_size"] == 8
    assert facts["source"] == "search_spaces/furiosa-2026.3.yaml"


def test_a_users_space_file_works(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text((SPACES / "gpu.yaml").read_text().replace("name: gpu", "name: my-gpu"))
    result = run(str(path), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "my-gpu"


def test_errors_are_one_line_with_exit_2(tmp_path):
    for args, needle in ((("furiosa-2025.1",), "did you mean"), ((str(tmp_path / "x.yaml"),), "existing file")):
        result = run(*args)
        assert result.returncode == 2 and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1 and needle in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text((SPACES / "gpu.yaml").read_text().replace("world_size: at_most", "world_size: atmost"))
    result = run(str(bad))
    assert result.returncode == 2 and "'world_size'" in result.stderr and "'atmost'" in result.stderr
