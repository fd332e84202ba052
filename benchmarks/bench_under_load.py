"""Prints `recommend --rate` wall times, whole process (issue #9 target: under 5 s on 8 devices).

Each case runs `python -m autotune recommend ... --json` in a fresh process (imports, presets, the
search and the simulations all counted), 600 requests per simulated replica, seed 0, and prints the
answer with the layouts and settings simulated.

Run: python benchmarks/bench_under_load.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

CASES = (
    ("70B on 8 RNGD, 0.5 req/s, p90 TTFT 2 s, TPOT 100 ms, throughput",
     ["--model", "llama-3.1-70b", "--hardware", "rngd", "--cards", "8", "--input-len", "1000", "--output-len", "200",
      "--ttft-ms", "2000", "--tpot-ms", "100", "--rate", "0.5"]),
    ("70B on 8 RNGD, 0.5 req/s, same SLOs, goodput",
     ["--model", "llama-3.1-70b", "--hardware", "rngd", "--cards", "8", "--input-len", "1000", "--output-len", "200",
      "--ttft-ms", "2000", "--tpot-ms", "100", "--rate", "0.5", "--objective", "goodput"]),
    ("70B on 8 RNGD, 0.5 req/s, same SLOs, latency",
     ["--model", "llama-3.1-70b", "--hardware", "rngd", "--cards", "8", "--input-len", "1000", "--output-len", "200",
      "--ttft-ms", "2000", "--tpot-ms", "100", "--rate", "0.5", "--objective", "latency"]),
    ("8B on 8 H100, 20 req/s, p90 TTFT 2 s, TPOT 100 ms, throughput",
     ["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--cards", "8", "--input-len", "1000", "--output-len",
      "200", "--ttft-ms", "2000", "--tpot-ms", "100", "--rate", "20"]),
    ("8B on 8 H100, 20 req/s, same SLOs, goodput",
     ["--model", "llama-3.1-8b", "--hardware", "h100-sxm", "--cards", "8", "--input-len", "1000", "--output-len",
      "200", "--ttft-ms", "2000", "--tpot-ms", "100", "--rate", "20", "--objective", "goodput"]),
)


def main() -> None:
    print("autotune recommend --rate: wall time of the whole process (600 requests per simulated replica, seed 0)")
    for label, args in CASES:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "autotune", "recommend", *args, "--json"], capture_output=True,
                             text=True, check=False)
        elapsed = time.perf_counter() - start
        data = json.loads(run.stdout)
        load = data["assumptions"]["load"]
        answer = data["status"]
        if data["recommendations"]:
            r = data["recommendations"][0]
            answer += (f" TP {r['tensor_parallel_size']} PP {r['pipeline_parallel_size']} DP "
                       f"{r['data_parallel_size']} max_num_seqs {r['batch_size']} on {r['cards_used']}")
        print(f"  {label:<66} {elapsed:5.2f} s  {load['layouts_simulated']} layouts, {load['simulations']} "
              f"settings simulated; {answer}")


if __name__ == "__main__":
    main()
