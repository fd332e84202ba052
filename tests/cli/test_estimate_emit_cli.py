"""`autotune estimate --emit`: the settings of one feasible configuration, none for an infeasible one."""
import json
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autotune", "estimate", *args], capture_output=True, text=True)


def test_estimate_emits_the_build_command_of_the_chosen_release():
    proc = run("--model", "llama-3.1-8b", "--hardware", "rngd", "--tp", "8", "--emit", "furiosa",
               "--release", "2025.3")
    assert proc.returncode == 0, proc.stderr
    assert "furiosa-llm build meta-llama/Llama-3.1-8B" in proc.stdout
    assert "-tp 8" in proc.stdout


def test_estimate_json_carries_settings_only_when_feasible():
    ok = run("--model", "llama-3.1-8b", "--tp", "8", "--emit", "vllm", "--hardware", "h100-sxm", "--json")
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["settings"]["format"] == "vllm"
    assert "--tensor-parallel-size 8" in doc["settings"]["text"].replace("\\\n", " ").replace("  ", " ")
    bad = run("--model", "llama-3.1-70b", "--tp", "1", "--emit", "vllm", "--hardware", "h100-sxm", "--json")
    assert bad.returncode == 1
    assert "settings" not in json.loads(bad.stdout)
