"""Predictions for measurement rows taken under load: a closed loop at a concurrency, an open loop at a rate.

`online_fixed_concurrency`: benchmark clients (genai-perf, the RNGD harness) keep `concurrency`
requests of fixed lengths in flight: the simulator's closed loop. `online_request_rate`: requests of
fixed lengths arrive as a Poisson process at `request_rate_per_s` (vLLM's and SGLang's serving
benchmarks, genai-perf `--request-rate`): the simulator's open loop at that rate, its Poisson
traffic. The engine is the one that served the row: Furiosa LLM on RNGD; on GPUs TensorRT-LLM's
in-flight batching, the backend of every GPU serving row in the shipped data (NIM for LLMs with the
TensorRT-LLM backend, `measurements_extra.csv`), unless the row's `framework` names vLLM or SGLang.

Which requests count is how the row's tool measured: genai-perf (named in `framework`) reports the
requests that complete in its measurement windows, the clients' first burst included
(`metrics.window_mask`); other rows leave warm-up (and a closed loop's drain) out. The measured
TTFT and TPOT are compared with the simulated means (genai-perf and the serving benchmarks report
averages).
"""
from __future__ import annotations

import math

import numpy as np

from autotune.errors import InfeasibleError
from cost_models.inputs import RowInputs
from cost_models.measurements import SERVING_LOAD_TYPES, MeasuredRow
from cost_models.params import CostParams
from cost_models.serving.engines import EngineProfile, load_engine
from cost_models.serving.metrics import GENAI_PERF_WINDOW_S, GENAI_PERF_WINDOWS, ServingResult
from cost_models.serving.simulator import simulate_layout
from cost_models.serving.traffic import Traffic, fixed_lengths

#: Requests each simulated client sends (a closed loop measures all but the first and last round).
REQUESTS_PER_CLIENT = 6
#: Fewest requests per simulated row.
MIN_REQUESTS = 48
#: Requests an open-loop row is simulated with (the first 10% are warm-up).
OPEN_LOOP_REQUESTS = 400
#: Rounds per client added beyond the measuring windows (the first and the one cut by their end).
_SPARE_ROUNDS = 3


def validation_engine(hardware_name: str, framework: str = "") -> str:
    """Returns the engine a measured row is simulated with: Furiosa LLM on RNGD, else the row's GPU engine."""
    if hardware_name.lower().startswith("rngd"):
        return "furiosa-llm"
    text = framework.lower()
    for engine in ("sglang", "vllm"):
        if engine in text:
            return engine
    return "tensorrt-llm"


def measure_of(row: MeasuredRow) -> str:
    """Returns how a row's requests were counted: 'windows' for genai-perf rows, else 'steady'."""
    return "windows" if "genai-perf" in row.framework.lower() else "steady"


def _simulate(row: MeasuredRow, inputs: RowInputs, i: int, params: CostParams, engine: EngineProfile,
              traffic: Traffic, measure: str) -> ServingResult:
    return simulate_layout(row.model, row.hardware, dtype=row.dtype, kv_dtype=row.kv_dtype, tp=row.tp, pp=row.pp,
                           dp=row.dp, engine=engine, traffic=traffic, params=params,
                           activation_tokens=int(inputs.activation_tokens[i]), measure=measure, ep=row.ep,
                           adp=row.adp, adp_balanced=row.adp_balanced)


def simulate_row(row: MeasuredRow, inputs: RowInputs, i: int, params: CostParams,
                 engine: EngineProfile) -> ServingResult:
    """Returns the simulated serving result of one serving row, measured as the row's tool measured it.

    A genai-perf closed loop runs until its measuring windows are over: when the first run is too short
    for them, the clients send more rounds (the round time taken from the first run) and it runs again.
    """
    lengths = fixed_lengths(row.input_len, row.output_len)
    measure = measure_of(row)
    if row.load_type == "online_request_rate":
        traffic = Traffic(requests=OPEN_LOOP_REQUESTS, lengths=lengths, rate_per_s=float(row.request_rate_per_s))
        return _simulate(row, inputs, i, params, engine, traffic, "steady")
    concurrency = int(row.batch or 1)
    rounds = REQUESTS_PER_CLIENT
    traffic = Traffic(requests=max(rounds * concurrency, MIN_REQUESTS), lengths=lengths, concurrency=concurrency)
    result = _simulate(row, inputs, i, params, engine, traffic, measure)
    if measure == "windows":
        round_s = result.simulated_s / max(traffic.requests / concurrency, 1.0)
        needed = math.ceil(GENAI_PERF_WINDOWS * GENAI_PERF_WINDOW_S / max(round_s, 1e-9)) + _SPARE_ROUNDS
        if needed * concurrency > traffic.requests:
            traffic = Traffic(requests=needed * concurrency, lengths=lengths, concurrency=concurrency)
            result = _simulate(row, inputs, i, params, engine, traffic, measure)
    return result


def predict_serving(rows: list[MeasuredRow], inputs: RowInputs, params: CostParams,
                    select: np.ndarray) -> dict[str, np.ndarray]:
    """Returns throughput (tokens/s), mean TTFT and TPOT (s) of the selected rows (NaN elsewhere or if none fits)."""
    n = len(rows)
    out = {key: np.full(n, np.nan) for key in ("throughput", "ttft", "tpot")}
    engines: dict[tuple[str, str], EngineProfile] = {}
    for i in np.flatnonzero(select):
        row = rows[i]
        name = validation_engine(row.hardware.name, row.framework)
        key = (name, row.hardware.name)
        if key not in engines:
            engines[key] = load_engine(name, row.hardware)
        try:
            result = simulate_row(row, inputs, int(i), params, engines[key])
        except InfeasibleError:
            continue
        out["throughput"][i] = result.output_tokens_per_s
        if result.ttft_ms is not None:  # None: an open loop the replica cannot keep up with (overloaded)
            out["ttft"][i] = result.ttft_ms.mean / 1e3
        out["tpot"][i] = result.tpot_ms.mean / 1e3 if row.output_len > 1 else np.nan
    return out


def online_accuracy(path: str, params: CostParams | None = None) -> dict[str, dict]:
    """Returns n, median and p90 absolute % error of throughput, TTFT and TPOT over a file's serving rows only."""
    from cost_models.measurements import read_measurements
    from cost_models.params import load_params
    from cost_models.regimes import aligned, prepare
    from cost_models.validation import abs_pct_errors, metric_summary

    params = load_params() if params is None else params
    rows = [r for r in read_measurements(path)[0] if r.load_type in SERVING_LOAD_TYPES]
    if not rows:
        return {}
    pairs = aligned(prepare(rows, params), params)
    return {m: metric_summary(abs_pct_errors(*pairs[m])) for m in ("throughput", "ttft", "tpot")}


if __name__ == "__main__":
    import json
    import sys

    # python -m cost_models.serving.validation FILE.csv: accuracy on the file's serving rows (both load types).
    print(json.dumps(online_accuracy(sys.argv[1]), indent=2))
