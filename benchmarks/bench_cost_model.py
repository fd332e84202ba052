"""Prints the time to evaluate 100,000 candidates with the cost model (target: under 1 s).

Run: python benchmarks/bench_cost_model.py
"""
from __future__ import annotations

import time

import numpy as np

from autotune.specs.candidates import Candidates
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.workload import Workload
from cost_models import evaluate, load_params

ROWS = 100_000


def candidates(n: int, cards: int) -> Candidates:
    """Returns n layouts cycling through TP, PP, DP and batch values (fixed seed, deterministic)."""
    rng = np.random.default_rng(0)
    tp = rng.choice([1, 2, 4, 8, 16, 32], size=n)
    pp = rng.choice([1, 2, 4], size=n)
    dp = rng.choice([1, 2, 4, 8], size=n)
    batch = rng.choice([1, 8, 32, 64, 128, 256], size=n)
    return Candidates(tp=tp, pp=pp, dp=dp, batch=batch, cards=cards)


def main() -> None:
    params = load_params()
    workload = Workload(input_len=2048, output_len=512, dtype="fp8")
    for model_name, hardware_name in (("llama-3.1-70b", "rngd"), ("mixtral-8x7b-v0.1", "h100-sxm")):
        model, hardware = load_model(model_name), load_hardware(hardware_name)
        table = candidates(ROWS, cards=32)
        evaluate(model, hardware, workload, table, params)          # warm-up (imports, caches)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            evaluate(model, hardware, workload, table, params)
            best = min(best, time.perf_counter() - start)
        print(f"{model_name} on {hardware_name}: {ROWS:,} candidates evaluated in {best:.3f} s "
              f"(target < 1 s) {'OK' if best < 1.0 else 'SLOW'}")


if __name__ == "__main__":
    main()
