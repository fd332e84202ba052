"""Prints the serving simulator's speed: 10,000 requests of a 70B model on one replica (target: under 1 s).

Closed loop (64 and 256 clients) and Poisson arrivals near the replica's capacity, on 4 H100 (vLLM
profile) and on 4 RNGD cards (Furiosa LLM profile); median wall time of 3 runs after a warm-up.
Disaggregated: 10,000 Poisson requests through a prefill pool and a decode pool (`--mode disagg`).

Run: python benchmarks/bench_serving.py
"""
from __future__ import annotations

import statistics
import time

from autotune import Workload, simulate

REQUESTS = 10_000
CASES = (
    # (label, hardware, tp, traffic)
    ("H100 x4, vLLM, closed loop 64 clients", "h100-sxm", 4, {"concurrency": 64}),
    ("H100 x4, vLLM, closed loop 256 clients", "h100-sxm", 4, {"concurrency": 256}),
    ("H100 x4, vLLM, Poisson 8 requests/s", "h100-sxm", 4, {"rate": 8.0}),
    ("RNGD x4, Furiosa LLM, closed loop 64 clients", "rngd", 32, {"concurrency": 64}),
    ("RNGD x4, Furiosa LLM, Poisson 2 requests/s", "rngd", 32, {"rate": 2.0}),
    ("H100 1P (TP 4) + 1D (TP 4), vLLM disagg, Poisson 2/s", "h100-sxm", None,
     {"rate": 2.0, "mode": "disagg", "prefill": (4, 1, 1), "decode": (4, 1, 1)}),
    ("H100 1P (TP 2) + 3D (TP 2), vLLM disagg, Poisson 6/s", "h100-sxm", None,
     {"rate": 6.0, "mode": "disagg", "prefill": (2, 1, 1), "decode": (2, 1, 3)}),
)


def main() -> None:
    workload = Workload(input_len=2048, output_len=512, dtype="fp8")
    print(f"serving simulator, llama-3.1-70b fp8, {workload.input_len}/{workload.output_len} tokens, "
          f"{REQUESTS:,} requests (median of 3)")
    for label, hardware, tp, traffic in CASES:
        simulate("llama-3.1-70b", hardware, workload, tp=tp, requests=200, **traffic)  # warm-up
        times = []
        for _ in range(3):
            start = time.perf_counter()
            result = simulate("llama-3.1-70b", hardware, workload, tp=tp, requests=REQUESTS, **traffic)
            times.append(time.perf_counter() - start)
        print(f"  {label:<54} {statistics.median(times):6.3f} s   ({result.steps:,} steps, "
              f"{result.output_tokens_per_s:,.0f} tokens/s, TPOT p50 {result.tpot_ms.p50:.1f} ms, "
              f"overloaded {result.overloaded})")


if __name__ == "__main__":
    main()
