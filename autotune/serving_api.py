"""`simulate`: one configuration under traffic, through the serving simulator (`cost_models.serving`).

    from autotune import simulate
    result = simulate("llama-3.1-70b", "h100-sxm", tp=4, concurrency=64, requests=2000)
    print(result.to_dict()["ttft_ms"]["p90"])

Traffic is exactly one of: `concurrency` (closed loop of that many clients), `rate` (open loop,
requests/s, Poisson or gamma arrivals with `cv`), or `trace_file` (timestamps and lengths).
Lengths: the workload's fixed input/output lengths, or a `lengths_file` sample or histogram.
With `dp` > 1 the traffic is split evenly over the replicas.

Disaggregated prefill/decode (`mode="disagg"`): `prefill` and `decode` are each a pool layout, a mapping
{"tp": N, "pp": N (default 1), "replicas": N} or a tuple (tp, pp, replicas); open-loop traffic only.

    result = simulate("llama-3.1-70b", "h100-sxm", mode="disagg", prefill={"tp": 4, "replicas": 1},
                      decode={"tp": 4, "replicas": 1}, rate=2.0)
    print(result.to_dict()["kv_transfer_ms"]["mean"])
"""
from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING

from autotune.specs.inputs import as_hardware, as_model, as_space, default_workload
from autotune.errors import InputError
from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.workload import Workload

if TYPE_CHECKING:
    from cost_models.params import CostParams
    from cost_models.serving.metrics import ServingResult

__all__ = ["simulate"]

#: Most requests one simulation takes (10,000 of a 70B model take well under a second).
MAX_REQUESTS = 1_000_000
OPEN_ARRIVALS = ("poisson", "gamma")
MODES = ("agg", "disagg")


def _positive_int(value, flag: str, maximum: int = 1_000_000) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise InputError(source=flag, value=value, expected=f"an integer in [1, {maximum}]")
    return value


def _positive_float(value, flag: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(source=flag, value=value, expected="a finite number > 0")
    return float(value)


_POOL_FIELDS = ("tp", "pp", "replicas", "ep", "adp")


def _pool(value, role: str) -> tuple[int, int, int, int, int]:
    """Returns (tp, pp, replicas, ep, adp) of a pool given as a mapping or a 3- or 5-tuple (ep and adp: an MoE
    pool's expert and attention data parallel degrees, default 1); InputError names the flag."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(_POOL_FIELDS))
        if unknown or "tp" not in value or "replicas" not in value:
            raise InputError(source=role, value=value, expected='{"tp": N, "pp": N, "replicas": N, "ep": N, "adp": N} '
                                                                '(pp, ep and adp optional)')
        value = (value["tp"], value.get("pp", 1), value["replicas"], value.get("ep", 1), value.get("adp", 1))
    if not isinstance(value, (tuple, list)) or len(value) not in (3, 5):
        raise InputError(source=role, value=value,
                         expected="(tp, pp, replicas[, ep, adp]) or a mapping with those keys")
    value = tuple(value) + (1, 1)[:5 - len(value)]
    return tuple(_positive_int(v, f"--{role}-{name}") for v, name in zip(value, _POOL_FIELDS))


def simulate(model: ModelSpec | str, hardware: HardwareSpec | str, workload: Workload | None = None, *,
             tp: int | None = None, pp: int = 1, dp: int = 1, mode: str = "agg", prefill=None, decode=None, engine: str | None = None, release: str | None = None,
             rate: float | None = None, concurrency: int | None = None, arrival: str = "poisson",
             cv: float | None = None, requests: int = 1000, seed: int = 0, max_num_seqs: int | None = None,
             max_num_batched_tokens: int | None = None, lengths_file: str | os.PathLike | None = None,
             trace_file: str | os.PathLike | None = None, params: CostParams | None = None, ep: int = 1,
             adp: int = 1) -> ServingResult:
    """Returns TTFT/TPOT/ITL/E2E percentiles (ms), throughput, goodput and overload of one layout under traffic.

    `ep`, `adp`: an MoE replica's expert-parallel and attention data-parallel degrees (aggregated mode; 1: plain TP).
    """
    from cost_models.params import load_params
    from cost_models.serving.engines import default_engine, load_engine
    from cost_models.serving.simulator import simulate_layout
    from cost_models.serving.traffic import Traffic, fixed_lengths, load_lengths, load_trace

    spec = as_model(model)
    device = as_hardware(hardware)
    # Formats as recommend and plan take them: the checkpoint's own where the hardware's runtime serves it.
    workload = default_workload(spec, as_space(None, device)) if workload is None else workload
    if mode not in MODES:
        raise InputError(source="--mode", value=mode, expected="one of " + ", ".join(MODES))
    if mode == "disagg":
        if prefill is None or decode is None:
            raise InputError(source="--mode", value=mode, expected="both pools: --prefill-tp/--prefill-replicas "
                                                                   "and --decode-tp/--decode-replicas")
        prefill, decode = _pool(prefill, "prefill"), _pool(decode, "decode")
        tp = tp or 1
    elif prefill is not None or decode is not None:
        raise InputError(source="--mode", value=mode, expected="disagg when prefill and decode pools are given")
    elif tp is None:
        raise InputError(source="--tp", value=None, expected="a tensor-parallel size", has_value=False)
    tp, pp, dp = (_positive_int(v, f"--{n}") for v, n in ((tp, "tp"), (pp, "pp"), (dp, "dp")))
    requests = _positive_int(requests, "--requests", MAX_REQUESTS)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(source="--seed", value=seed, expected="an integer >= 0")
    given = [name for name, value in (("--rate", rate), ("--concurrency", concurrency), ("trace", trace_file))
             if value is not None]
    if len(given) != 1:
        raise InputError(source="traffic", value=", ".join(given) or None,
                         expected="exactly one of --rate (open loop), --concurrency (closed loop) or a trace file")
    if max_num_seqs is not None:
        max_num_seqs = _positive_int(max_num_seqs, "--max-num-seqs")
    if max_num_batched_tokens is not None:
        max_num_batched_tokens = _positive_int(max_num_batched_tokens, "--max-num-batched-tokens", 10_000_000)
    lengths = fixed_lengths(workload.input_len, workload.output_len)
    if lengths_file is not None:
        lengths = load_lengths(lengths_file)
    trace: tuple[float, ...] = ()
    if trace_file is not None:
        trace, lengths = load_trace(trace_file)
        traffic = Traffic(requests=min(requests, len(trace)), lengths=lengths, arrival="trace", trace_s=trace, seed=seed)
    elif concurrency is not None:
        concurrency = _positive_int(concurrency, "--concurrency")
        if concurrency < dp:
            raise InputError(source="--concurrency", value=concurrency, expected=f"at least one client per replica "
                                                                                 f"(--dp {dp})")
        traffic = Traffic(requests=requests, lengths=lengths, concurrency=concurrency, seed=seed)
    else:
        rate = _positive_float(rate, "--rate")
        if arrival not in OPEN_ARRIVALS:
            raise InputError(source="--arrival", value=arrival, expected="one of " + ", ".join(OPEN_ARRIVALS))
        if arrival == "gamma":
            cv = _positive_float(cv, "--cv")
        traffic = Traffic(requests=requests, lengths=lengths, rate_per_s=rate, arrival=arrival, cv=cv, seed=seed)
    profile = load_engine(engine or default_engine(device), device, release)
    if mode == "disagg":  # the flags as the engine takes them, each pool at its own attention-DP ranks
        from cost_models.serving.disagg import simulate_disaggregated
        return simulate_disaggregated(spec, device, dtype=workload.dtype, kv_dtype=workload.cache_dtype,
                                      prefill=prefill[:3], decode=decode[:3], prefill_moe=prefill[3:],
                                      decode_moe=decode[3:], engine=profile, traffic=traffic,
                                      params=load_params() if params is None else params,
                                      ttft_slo_ms=workload.ttft_ms, tpot_slo_ms=workload.tpot_ms,
                                      max_num_seqs=max_num_seqs, max_num_batched_tokens=max_num_batched_tokens)
    adp = _positive_int(adp, "--adp")
    ranks = adp if profile.limits_per_attention_dp_rank else 1
    # The flags are the engine's: per attention-DP rank where it schedules each rank on its own (vLLM, TensorRT-LLM).
    max_num_seqs = None if max_num_seqs is None else max_num_seqs * ranks
    max_num_batched_tokens = None if max_num_batched_tokens is None else max_num_batched_tokens * ranks
    return simulate_layout(spec, device, dtype=workload.dtype, kv_dtype=workload.cache_dtype, tp=tp, pp=pp, dp=dp,
                           engine=profile, traffic=traffic, params=load_params() if params is None else params,
                           ttft_slo_ms=workload.ttft_ms, tpot_slo_ms=workload.tpot_ms, max_num_seqs=max_num_seqs,
                           max_num_batched_tokens=max_num_batched_tokens, ep=_positive_int(ep, "--ep"), adp=adp)
