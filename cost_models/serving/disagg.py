"""`simulate_disaggregated`: a prefill pool and a decode pool, the KV cache moved between them, into a ServingResult.

The deployment (vLLM disaggregated prefilling, docs.vllm.ai features/disagg_prefill and its proxy
benchmarks/disagg_benchmarks/disagg_prefill_proxy_server.py; SGLang PD disaggregation,
docs.sglang.io advanced_features/pd_disaggregation):
1. A request goes to a prefill replica, which runs only its prompt (vLLM's proxy sends it with
   max_tokens=1): the prefill pool is `x` replicas of one layout whose requests all have one output token.
2. When the prefill ends, the prompt's KV cache moves to a decode replica over the link between the pools
   (`kv_transfer_s`): bytes / (parallel streams x link bandwidth) + the link's latency.
3. The decode replica takes the request in when its transfer has ended and its KV cache and sequence slots
   have room (`simulate_replica(prefilled=...)`): no prefill work; it decodes output_len - 1 tokens under
   continuous batching with the `y` replicas' engine scheduler.
The client's stream comes from the decode instance (vLLM's proxy forwards the request to decode after the
prefill returns and streams decode's response; SGLang's router streams the decode server's output), so
TTFT = prefill queueing + prefill + KV transfer + the wait for a decode slot, and TPOT = (e2e - TTFT) /
(output - 1), the aggregated simulator's definition. Requests are dealt round-robin over the prefill and
the decode replicas in arrival order, as vLLM's proxies pick instances. The same cost model prices both pools.

Open-loop traffic only (Poisson, gamma, a trace): a closed loop's next request waits for a decode finish,
which couples the pools step by step; that co-simulation is not built.
"""
from __future__ import annotations

import numpy as np

from autotune.errors import InputError
from autotune.specs.candidates import devices_used
from autotune.specs.dtypes import bytes_per_element
from autotune.specs.hardware import HardwareSpec, LinkSpec
from autotune.specs.model import ModelSpec
from cost_models.params import CostParams
from cost_models.serving.engines import EngineProfile
from cost_models.serving.metrics import (OVERLOAD_SLOPE, PoolSummary, ServingResult, distribution_ms, meets_slo,
                                         measured_mask, summarize_replica)
from cost_models.serving.pricing import Attention
from cost_models.serving.scheduler import Trajectory, simulate_replica
from cost_models.serving.simulator import (check_fits, check_moe_degrees, peak_in_flight, prepare_replica,
                                           traffic_text)
from cost_models.serving.traffic import Traffic, open_arrivals_s

#: First Furiosa LLM release with prefill/decode disaggregation, at PP 1 only (../shared/reference/
#: furiosa-llm.md section 2, 2026.4.0 row: "embedded MTP / PD-disaggregation require PP=1").
FURIOSA_DISAGG_RELEASE = (2026, 4)


def pool_label(tp: int, pp: int, ep: int = 1, adp: int = 1) -> str:
    """Returns a pool replica's layout in words: `TP 8, PP 1` and, for MoE degrees, `, EP 8, ADP 8`."""
    moe = f", EP {ep}, ADP {adp}" if (ep, adp) != (1, 1) else ""
    return f"TP {tp}, PP {pp}{moe}"


def pool_devices(hardware: HardwareSpec, tp: int, pp: int, replicas: int) -> int:
    """Returns the devices (GPUs, RNGD cards) `replicas` replicas of (tp, pp) occupy, as the solver counts them."""
    return int(devices_used(hardware, np.array([tp]), np.array([pp]), np.array([replicas]))[0])


def transfer_link(hardware: HardwareSpec, devices: int) -> tuple[LinkSpec, str]:
    """Returns the link the KV cache crosses between the pools, and why that one.

    Both pools inside one machine (their devices together at most `devices_per_node`): the link between
    devices of a machine (NVLink, or on RNGD the card-to-card PCIe peer-to-peer path); else the network.
    """
    word = hardware.device_name + "s"  # "cards" on RNGD, "GPUs" on GPUs (pools hold at least 2)
    if devices <= hardware.devices_per_node:
        link = hardware.inter_device_link
        return link, (f"{link.name}: both pools ({devices} {word}) fit one machine of "
                      f"{hardware.devices_per_node}")
    link = hardware.inter_node_link
    return link, (f"{link.name}: the pools take {devices} {word}, more than one machine of "
                  f"{hardware.devices_per_node}")


def kv_streams(model: ModelSpec, hardware: HardwareSpec, tp: int, pp: int, adp: int = 1) -> int:
    """Returns the devices of one replica that hold distinct parts of a request's KV cache (each sends its own).

    Pipeline stages hold their layers' KV; inside a stage the KV heads split over the devices of the request's
    attention group (the TP group, or its TP / `adp` devices under attention data parallel) down to one head
    per device (`memory.kv_split_on_device`); MLA's latent cache is whole on each.
    """
    devices_per_group = -(-(tp // adp) // hardware.compute_units_per_device)
    split = min(devices_per_group, model.num_key_value_heads) if model.kv_cache_shardable else 1
    return pp * max(split, 1)


def kv_transfer_s(prompt_len: np.ndarray, *, attention: Attention, kv_bytes_per_pair: float, link: LinkSpec,
                  streams: int) -> np.ndarray:
    """Returns seconds to move each prompt's KV cache: bytes / (streams x link bandwidth) + the link latency.

    Bytes: the (layer, position) pairs the prompt stores (window layers hold at most their window) x the
    bytes of one pair. Each stream is one device's share over its own link, in parallel.
    """
    lengths = np.asarray(prompt_len, dtype=np.int64)
    pairs = np.array([attention.pairs(int(n)) for n in lengths], dtype=np.float64)
    return pairs * kv_bytes_per_pair / (streams * link.bandwidth_bytes_per_s) + link.latency_s


def check_disaggregation(engine: EngineProfile, *, prefill_pp: int, decode_pp: int) -> None:
    """Raises InputError when the engine release does not run prefill/decode disaggregation at these PP degrees.

    Every GPU engine release with a profile here has it: vLLM (docs.vllm.ai v0.8.0 features/disagg_prefill,
    experimental, KV connectors), SGLang (docs.sglang.io advanced_features/pd_disaggregation, Mooncake or
    NIXL transfer), TensorRT-LLM (nvidia.github.io/TensorRT-LLM 0.19.0 advanced/disaggregated-service,
    context-only and generation-only requests). Furiosa LLM: from 2026.4, at PP 1 (`FURIOSA_DISAGG_RELEASE`).
    """
    if engine.engine != "furiosa-llm":
        return
    try:
        release = tuple(int(part) for part in engine.release.split(".")[:2])
    except ValueError:
        release = (0, 0)
    if release < FURIOSA_DISAGG_RELEASE:
        raise InputError(source="--release", value=engine.release,
                         expected="a Furiosa LLM release with prefill/decode disaggregation: 2026.4 or later, at "
                                  "PP 1 (furiosa-llm.md section 2); no such release has a scheduler profile in "
                                  "cost_models/serving/engines/furiosa-llm.yaml yet")
    for flag, pp in (("--prefill-pp", prefill_pp), ("--decode-pp", decode_pp)):
        if pp != 1:
            raise InputError(source=flag, value=pp, expected=f"1: Furiosa LLM {engine.release} disaggregates "
                                                             "prefill and decode at PP 1 only")


def decode_overloaded(trajs: list[Trajectory]) -> bool:
    """Returns True when the decode pool finishes fewer than 95% of the requests reaching it in the run's second half.

    A decode replica takes a request in as soon as its KV cache has room (and preempts when it runs out), so
    a backlog swells its batch and slows every step rather than growing a queue of waiting requests: the
    aggregated test on queueing time misses it. The same criterion in counts, over the whole pool (fewer
    Poisson fluctuations than per replica): from each replica's median arrival to its last, the finishes keep
    below (1 - `OVERLOAD_SLOPE`) of the arrivals, i.e. the service runs below 95% of the rate. Within a few
    percent of the pool's capacity the verdict of a finite run can depend on the seed.
    """
    arrived = finished = 0
    for traj in trajs:
        n = len(traj.arrival_s)
        arrivals = np.sort(traj.arrival_s)
        start, end = float(arrivals[n // 2]), float(arrivals[-1])
        arrived += n - n // 2
        finished += int(np.count_nonzero((traj.finish_s >= start) & (traj.finish_s <= end)))
    if arrived < 10:
        return False
    return finished < (1.0 - OVERLOAD_SLOPE) * arrived


def _requests(traffic: Traffic) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns (arrival s, input, output) of every request, as the aggregated simulator draws one replica's."""
    if traffic.arrival == "trace":
        n = min(traffic.requests, len(traffic.trace_s))
        times = np.asarray(traffic.trace_s[:n], dtype=np.float64)
        return (times - times[0], np.asarray(traffic.lengths.input_len[:n], dtype=np.int64),
                np.asarray(traffic.lengths.output_len[:n], dtype=np.int64))
    rng = np.random.default_rng(traffic.seed)
    inputs, outputs = traffic.lengths.sample(traffic.requests, rng)
    return open_arrivals_s(traffic, rng), np.asarray(inputs, dtype=np.int64), np.asarray(outputs, dtype=np.int64)


def _pool_summary(role: str, layout: tuple[int, int, int], moe: tuple[int, int], trajs: list[Trajectory], limits,
                  devices: int) -> PoolSummary:
    busy = [t.busy_s / max(float(np.nanmax(t.finish_s)), 1e-12) for t in trajs]
    return PoolSummary(role=role, tensor_parallel_size=layout[0], pipeline_parallel_size=layout[1],
                       expert_parallel_size=moe[0], attention_data_parallel_size=moe[1],
                       replicas=layout[2], devices=devices, busy_fraction=float(np.mean(busy)),
                       peak_kv_fraction=max(t.peak_kv_pairs for t in trajs) / max(limits.kv_capacity_pairs, 1.0),
                       preemptions=sum(t.preemptions for t in trajs), max_num_seqs=limits.max_num_seqs,
                       max_num_batched_tokens=limits.max_num_batched_tokens)


def simulate_disaggregated(model: ModelSpec, hardware: HardwareSpec, *, dtype: str, kv_dtype: str,
                           prefill: tuple[int, int, int], decode: tuple[int, int, int], engine: EngineProfile,
                           traffic: Traffic, params: CostParams, ttft_slo_ms: float | None = None,
                           tpot_slo_ms: float | None = None, max_num_seqs: int | None = None,
                           max_num_batched_tokens: int | None = None, measure: str = "steady",
                           prefill_moe: tuple[int, int] = (1, 1),
                           decode_moe: tuple[int, int] = (1, 1)) -> ServingResult:
    """Returns what clients see when `prefill` = (tp, pp, replicas) prefill and `decode` = (tp, pp, replicas)
    decode replicas serve open-loop `traffic`, the KV cache moved between them (see the module doc).

    `prefill_moe`, `decode_moe`: each pool's (expert parallel, attention data parallel) degrees of an MoE model
    ((1, 1): plain tensor parallel). `max_num_seqs` and `max_num_batched_tokens` are the engine's flags, the
    same for both pools (None: the profile's): a pool's replica runs its attention-DP ranks x them where the
    engine takes them per rank (`EngineProfile.limits_per_attention_dp_rank`)."""
    if traffic.closed:
        raise InputError(source="--concurrency", value=traffic.concurrency,
                         expected="open-loop traffic (--rate or a trace) in disaggregated mode: a closed loop "
                                  "couples the two pools and is not modelled")
    check_disaggregation(engine, prefill_pp=prefill[1], decode_pp=decode[1])
    (p_tp, p_pp, x), (d_tp, d_pp, y) = prefill, decode
    check_moe_degrees(model, tp=p_tp, ep=prefill_moe[0], adp=prefill_moe[1], pool="prefill")
    check_moe_degrees(model, tp=d_tp, ep=decode_moe[0], adp=decode_moe[1], pool="decode")

    def replica(tp: int, pp: int, moe: tuple[int, int]):
        ranks = moe[1] if engine.limits_per_attention_dp_rank else 1
        return prepare_replica(model, hardware, tp=tp, pp=pp, ep=moe[0], adp=moe[1], dtype=dtype, kv_dtype=kv_dtype,
                               engine=engine, params=params,
                               max_num_seqs=None if max_num_seqs is None else max_num_seqs * ranks,
                               max_num_batched_tokens=(None if max_num_batched_tokens is None
                                                       else max_num_batched_tokens * ranks))

    p_pricer, p_limits = replica(p_tp, p_pp, prefill_moe)
    d_pricer, d_limits = replica(d_tp, d_pp, decode_moe)
    lengths = traffic.lengths
    p_label, d_label = pool_label(p_tp, p_pp, *prefill_moe), pool_label(d_tp, d_pp, *decode_moe)
    check_fits(p_pricer, p_limits, engine, max(lengths.input_len) + 1, decodes=False,
               what=f"a prefill replica ({p_label})")
    check_fits(d_pricer, d_limits, engine, max(i + o for i, o in zip(lengths.input_len, lengths.output_len)),
               what=f"a decode replica ({d_label})")

    arrival, inputs, outputs = _requests(traffic)
    n = len(arrival)
    index = np.arange(n)
    # Prefill pool: round-robin in arrival order; each request makes its first token and stops.
    scheduled = np.empty(n)
    prefilled_at = np.empty(n)
    p_trajs = []
    for r in range(x):
        mine = index[r::x]
        traj = simulate_replica(p_pricer, p_limits, input_len=inputs[mine], output_len=np.ones(len(mine), np.int64),
                                arrival_s=arrival[mine])
        scheduled[mine], prefilled_at[mine] = traj.scheduled_s, traj.first_token_s
        p_trajs.append(traj)

    p_devices, d_devices = pool_devices(hardware, p_tp, p_pp, x), pool_devices(hardware, d_tp, d_pp, y)
    link, why = transfer_link(hardware, p_devices + d_devices)
    streams = min(kv_streams(model, hardware, p_tp, p_pp, prefill_moe[1]),
                  kv_streams(model, hardware, d_tp, d_pp, decode_moe[1]))
    pair_bytes = model.kv_cache_elements_per_token_per_layer * bytes_per_element(kv_dtype)
    transfer = kv_transfer_s(inputs, attention=d_pricer.attention, kv_bytes_per_pair=pair_bytes, link=link,
                             streams=streams)
    ready = prefilled_at + transfer

    # Decode pool: round-robin in arrival order; a replica takes its requests in as their transfers end.
    first = np.empty(n)
    finish = np.empty(n)
    d_trajs = []
    for r in range(y):
        mine = index[r::y]
        mine = mine[np.argsort(ready[mine], kind="stable")]
        traj = simulate_replica(d_pricer, d_limits, input_len=inputs[mine], output_len=outputs[mine],
                                arrival_s=ready[mine], prefilled=np.ones(len(mine), dtype=bool))
        first[mine], finish[mine] = traj.first_token_s, traj.finish_s
        d_trajs.append(traj)

    gaps = [np.concatenate([getattr(t, name) for t in d_trajs])
            for name in ("gap_first_s", "gap_slope_s", "gap_steps", "gap_weight")]
    whole = Trajectory(arrival_s=arrival, scheduled_s=scheduled, first_token_s=first, finish_s=finish,
                       input_len=inputs, output_len=outputs, gap_first_s=gaps[0], gap_slope_s=gaps[1],
                       gap_steps=gaps[2], gap_weight=gaps[3],
                       peak_kv_pairs=max(t.peak_kv_pairs for t in d_trajs),
                       preemptions=sum(t.preemptions for t in p_trajs + d_trajs),
                       steps=max(t.steps for t in p_trajs + d_trajs))
    summary = summarize_replica(whole, concurrency=None, measure=measure)
    # The prefill queue shows in the whole run's queueing; a decode pool falling behind shows in its own.
    overloaded = summary.overloaded or decode_overloaded(d_trajs)
    mask = measured_mask(whole, concurrency=None) if measure == "steady" else np.ones(n, dtype=bool)
    goodput = None
    if not overloaded:
        goodput = summary.requests_per_s * float(meets_slo(summary, ttft_ms=ttft_slo_ms, tpot_ms=tpot_slo_ms).mean())
    p_pool = _pool_summary("prefill", prefill, prefill_moe, p_trajs, p_limits, p_devices)
    d_pool = _pool_summary("decode", decode, decode_moe, d_trajs, d_limits, d_devices)
    layers = d_pricer.attention.full_layers + d_pricer.attention.window_layers
    notes = [f"disaggregated: {x} prefill replica(s) ({p_label}) and {y} decode replica(s) "
             f"({d_label}); requests dealt round-robin to both in arrival order",
             "TTFT counts the prefill, the KV transfer and the wait for a decode slot (the decode instance "
             "streams the first token)",
             f"KV transfer over {why}; {streams} parallel stream(s), no contention between transfers",
             "open loop: the first 10% of arrivals are not measured"]
    if overloaded:
        notes.append("overloaded: a pool's waiting queue grows without bound at this rate; latencies not reported")
    return ServingResult(
        requests=len(summary.ttft_s), replicas=x + y,
        ttft_ms=None if overloaded else distribution_ms(summary.ttft_s), tpot_ms=distribution_ms(summary.tpot_s),
        itl_ms=distribution_ms(summary.gap_s, summary.gap_weight),
        e2e_latency_ms=None if overloaded else distribution_ms(summary.e2e_s),
        queueing_ms=None if overloaded else distribution_ms(summary.queue_s),
        output_tokens_per_s=summary.output_tokens_per_s, requests_per_s=summary.requests_per_s,
        goodput_requests_per_s=goodput, peak_kv_fraction=max(p_pool.peak_kv_fraction, d_pool.peak_kv_fraction),
        peak_kv_tokens=whole.peak_kv_pairs / max(layers, 1), preemptions=whole.preemptions, overloaded=overloaded,
        simulated_s=float(np.nanmax(finish)), steps=whole.steps, engine=engine.engine, release=engine.release,
        max_num_seqs=d_limits.max_num_seqs, max_num_batched_tokens=d_limits.max_num_batched_tokens,
        traffic=traffic_text(traffic), notes=tuple(notes),
        peak_running=max(peak_in_flight(t.scheduled_s, t.finish_s) for t in d_trajs),
        mode="disagg", prefill=p_pool, decode=d_pool, kv_transfer_ms=distribution_ms(transfer[mask]),
        kv_link=why)
