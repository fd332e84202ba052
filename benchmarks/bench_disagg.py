"""Prints `recommend --mode both` wall times, whole process (issue #10 target: under 5 s), and what each mode took.

Each case runs `python -m autotune recommend ... --json` in a fresh process (imports, presets, both searches
and every simulation counted), 600 requests per simulated replica, seed 0; then the same with `--mode agg`
and `--mode disagg` to show where the time goes.

Run: python benchmarks/bench_disagg.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

CASES = (
    ("DeepSeek-V3 on 16 H200, 2 req/s, 2000 in / 500 out, p90 TTFT 2 s, TPOT 50 ms",
     ["--model", "deepseek-v3", "--hardware", "h200-sxm", "--cards", "16", "--input-len", "2000", "--output-len",
      "500", "--ttft-ms", "2000", "--tpot-ms", "50", "--rate", "2"]),
    ("DeepSeek-V3 on 16 H200, 8 req/s (no 8-GPU layout keeps up: every layout is simulated)",
     ["--model", "deepseek-v3", "--hardware", "h200-sxm", "--cards", "16", "--input-len", "2000", "--output-len",
      "500", "--ttft-ms", "2000", "--tpot-ms", "50", "--rate", "8"]),
    ("Llama-3.1-70B on 16 RNGD (2026.4), 1 req/s, 1000 in / 200 out, p90 TTFT 2 s, TPOT 100 ms",
     ["--model", "llama-3.1-70b", "--hardware", "rngd", "--cards", "16", "--space", "furiosa-2026.4",
      "--input-len", "1000", "--output-len", "200", "--ttft-ms", "2000", "--tpot-ms", "100", "--rate", "1"]),
)


def _run(args: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "autotune", "recommend", *args, "--json"], capture_output=True,
                         text=True, check=False)
    return time.perf_counter() - start, json.loads(run.stdout)


def main() -> None:
    print("autotune recommend --mode: wall time of the whole process (600 requests per simulated replica, seed 0)")
    for label, args in CASES:
        print(f"  {label}")
        for mode in ("both", "agg", "disagg"):
            elapsed, data = _run([*args, "--mode", mode])
            answer = data["status"]
            if data["recommendations"]:
                r = data["recommendations"][0]
                answer += f" {r['mode']} on {r['cards_used']}"
            modes = data.get("modes") or {}
            ratio = f" ({modes['ratio']}x)" if modes.get("ratio") is not None else ""
            winner = f"; winner {modes.get('winner')}{ratio}" if modes else ""
            load = data["assumptions"]["load"]
            runs = load.get("simulations")
            runs = f"; {runs} settings simulated" if runs is not None else ""
            print(f"    --mode {mode:<7} {elapsed:6.2f} s  {answer}{winner}{runs}")


if __name__ == "__main__":
    main()
