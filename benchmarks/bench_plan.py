"""Prints `plan`'s wall time: the fewest cards for a rate at a p90 SLO, and the highest rate of one machine.

Llama-3.1-70B (the checkpoint's bf16) 2048/512 on RNGD (Furiosa LLM profile) at 1 request/s with p90
TPOT <= 200 ms (target: well under a minute), and Llama-3.1-8B on H100 SXM (vLLM) at 30 requests/s
with p90 TPOT <= 50 ms; 600 requests per simulated replica, seed 0; one run each (the process
caches nothing between plans), after loading the presets once. Each case runs serially and with
`jobs=2` (the layouts' bisections in two processes; `--jobs 2`), and the two answers must be equal.

Run: python benchmarks/bench_plan.py [--jobs N]
"""
from __future__ import annotations

import argparse
import json
import time

from autotune import Workload, plan

CASES = (
    # (label, model, hardware, workload, keywords)
    ("70B on RNGD, 1 request/s, TPOT p90 <= 200 ms", "llama-3.1-70b", "rngd",
     Workload(input_len=2048, output_len=512, tpot_ms=200), {"rate": 1.0}),
    ("70B on RNGD, --cards 8, TPOT p90 <= 200 ms", "llama-3.1-70b", "rngd",
     Workload(input_len=2048, output_len=512, tpot_ms=200), {"cards": 8}),
    ("8B on H100 SXM, 30 requests/s, TPOT p90 <= 50 ms", "llama-3.1-8b", "h100-sxm",
     Workload(input_len=2048, output_len=512, tpot_ms=50), {"rate": 30.0}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="processes of the parallel run")
    jobs = parser.parse_args().jobs
    print(f"autotune plan: wall time (600 requests per simulated replica, seed 0), serial and --jobs {jobs}")
    for label, model, hardware, workload, keywords in CASES:
        walls = []
        for n in (1, jobs):
            start = time.perf_counter()
            result = plan(model, hardware, workload, jobs=n, **keywords)
            walls.append(time.perf_counter() - start)
            if n == 1:
                serial = json.dumps(result.to_dict())
            elif json.dumps(result.to_dict()) != serial:
                raise SystemExit(f"{label}: the plan with --jobs {n} differs from the serial one")
        simulations = sum(c.simulations for c in result.layouts)
        answer = "no plan"
        if result.recommendations:
            rec = result.recommendations[0]
            answer = (f"{rec.replicas} x TP {rec.layout.tp} PP {rec.layout.pp} = {rec.cards_used} "
                      f"{result.assumptions.device_name}s, {rec.rate_served:.4g} requests/s")
        print(f"  {label:<52} {walls[0]:6.2f} s serial, {walls[1]:6.2f} s --jobs {jobs}   {len(result.layouts)} "
              f"layouts, {simulations} simulations; {answer}")


if __name__ == "__main__":
    main()
