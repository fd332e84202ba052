"""Wall time of whole `autotune` processes (import, load, cost model, CP-SAT, print), median of repeats.

Targets (issue #4 part 8): `recommend` for a 70B model on up to 64 cards < 1.5 s with status
OPTIMAL; a sweep over 1..64 cards < 5 s. The sweep and a plan also run with `--jobs 2` (the machine's
two cores; the output is the serial one, byte for byte). For scale, AIConfigurator takes 13.5 s for one 8-GPU
search and 15-20 s per sweep point (../shared/reference/peers.md).

Run: python benchmarks/bench_solver.py [--repeats N]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CASES: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("recommend 70B, 8 RNGD cards (furiosa-2026.4)",
     ("recommend", "--model", "llama-3.1-70b", "--cards", "8", "--json"), 1.5),
    ("recommend 70B, 64 RNGD cards (furiosa-2024.2)",
     ("recommend", "--model", "llama-3.1-70b", "--cards", "64", "--space", "furiosa-2024.2", "--json"), 1.5),
    ("recommend 70B, 64 RNGD cards (furiosa-2025.3)",
     ("recommend", "--model", "llama-3.1-70b", "--cards", "64", "--space", "furiosa-2025.3", "--json"), 1.5),
    ("recommend 70B, 64 RNGD cards (furiosa-2026.4)",
     ("recommend", "--model", "llama-3.1-70b", "--cards", "64", "--json"), 1.5),
    ("recommend 70B, 8 H100-SXM (gpu)",
     ("recommend", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--devices", "8", "--json"), 1.5),
    ("recommend 70B, 64 H100-SXM (gpu)",
     ("recommend", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--devices", "64", "--json"), 1.5),
    ("pareto 70B, 64 RNGD cards (furiosa-2025.3)",
     ("pareto", "--model", "llama-3.1-70b", "--cards", "64", "--space", "furiosa-2025.3", "--json"), None),
    ("sweep 70B over 1..64 RNGD cards",
     ("sweep", "--model", "llama-3.1-70b", "--cards", "1..64", "--json"), 5.0),
    ("sweep 70B over 1..64 RNGD cards, --jobs 2",
     ("sweep", "--model", "llama-3.1-70b", "--cards", "1..64", "--jobs", "2", "--json"), 5.0),
    ("plan 70B on RNGD, 1 request/s, TPOT p90 <= 200 ms",
     ("plan", "--model", "llama-3.1-70b", "--rate", "1", "--tpot-ms", "200", "--json"), None),
    ("plan 70B on RNGD, 1 request/s, --jobs 2",
     ("plan", "--model", "llama-3.1-70b", "--rate", "1", "--tpot-ms", "200", "--jobs", "2", "--json"), None),
)


def run_once(args: tuple[str, ...]) -> tuple[float, dict]:
    """Returns (wall seconds, parsed JSON output) of one `python -m autotune ARGS` process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "autotune", *args], cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"autotune {' '.join(args)} failed: {done.stderr.strip()}")
    return wall, json.loads(done.stdout)


def status_of(output: dict) -> str:
    """Returns the solver status of a recommend/pareto output, or the statuses of a sweep's points."""
    if "status" in output:
        return output["status"]
    statuses = sorted({p["status"] for p in output.get("points", [])})
    return "/".join(statuses)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{'case':48}  {'median s':>8}  {'min s':>6}  {'target':>10}  status")
    serial_outputs: dict[tuple[str, ...], dict] = {}
    for label, cli_args, target in CASES:
        run_once(cli_args)  # warm the file cache
        walls, output = [], {}
        for _ in range(args.repeats):
            wall, output = run_once(cli_args)
            walls.append(wall)
        if "--jobs" in cli_args:
            at = cli_args.index("--jobs")
            serial = serial_outputs.get(cli_args[:at] + cli_args[at + 2:])
            if serial is not None and serial != output:
                raise SystemExit(f"{label}: the output differs from the serial run's")
        else:
            serial_outputs[cli_args] = output
        median = statistics.median(walls)
        verdict = "-" if target is None else (f"< {target:g}" + (" ok" if median < target else " MISSED"))
        print(f"{label:48}  {median:8.2f}  {min(walls):6.2f}  {verdict:>10}  {status_of(output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
