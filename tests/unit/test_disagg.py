"""Disaggregated prefill/decode: prefilled admission in the scheduler, the KV transfer, both pools together."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from autotune.errors import InfeasibleError, InputError
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from cost_models.params import load_params
from cost_models.serving.disagg import (check_disaggregation, kv_streams, kv_transfer_s, simulate_disaggregated,
                                        transfer_link)
from cost_models.serving.engines import load_engine
from cost_models.serving.pricing import attention_of
from cost_models.serving.scheduler import simulate_replica
from cost_models.serving.simulator import prepare_replica, simulate_layout
from cost_models.serving.traffic import Traffic, fixed_lengths

PARAMS = load_params()
MODEL = load_model("llama-3.1-8b")
H100 = load_hardware("h100-sxm")
RNGD = load_hardware("rngd")


def vllm_replica(**overrides):
    return prepare_replica(MODEL, H100, dtype="bf16", kv_dtype="bf16", tp=1, pp=1,
                           engine=load_engine("vllm", H100), params=PARAMS, **overrides)


def traffic(rate=1.0, requests=1000, input_len=2048, output_len=128, seed=0):
    return Traffic(requests=requests, lengths=fixed_lengths(input_len, output_len), rate_per_s=rate,
                   arrival="poisson", seed=seed)


def disagg(prefill=(1, 1, 1), decode=(1, 1, 1), engine=None, hardware=H100, model=MODEL, **kw):
    t = kw.pop("traffic", None) or traffic()
    return simulate_disaggregated(model, hardware, dtype="bf16", kv_dtype="bf16", prefill=prefill, decode=decode,
                                  engine=engine or load_engine("vllm", hardware), traffic=t, params=PARAMS, **kw)


# -- the scheduler's prefilled admission --------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["vllm", "sglang", "tensorrt-llm"])
def test_flag_all_false_is_the_aggregated_run(engine):
    """A `prefilled` array of False takes the aggregated paths: the same trajectory as without the flag."""
    pricer, limits = prepare_replica(MODEL, H100, dtype="bf16", kv_dtype="bf16", tp=1, pp=1,
                                     engine=load_engine(engine, H100), params=PARAMS)
    rng = np.random.default_rng(3)
    n = 400
    arrivals = np.cumsum(rng.exponential(0.2, n))
    inputs, outputs = rng.integers(100, 3000, n), rng.integers(1, 400, n)
    a = simulate_replica(pricer, limits, input_len=inputs, output_len=outputs, arrival_s=arrivals)
    b = simulate_replica(pricer, limits, input_len=inputs, output_len=outputs, arrival_s=arrivals,
                         prefilled=np.zeros(n, dtype=bool))
    for name in ("scheduled_s", "first_token_s", "finish_s", "gap_first_s", "gap_steps"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert (a.steps, a.preemptions, a.peak_kv_pairs) == (b.steps, b.preemptions, b.peak_kv_pairs)


def test_prefilled_requests_do_no_prefill_work_and_all_finish():
    """Every step is a pure decode step (tokens == sequences) and the tokens sum to sum(output - 1)."""
    pricer, limits = vllm_replica()
    rng = np.random.default_rng(5)
    n = 300
    arrivals = np.cumsum(rng.exponential(0.05, n))
    inputs, outputs = rng.integers(100, 3000, n), rng.integers(1, 300, n)
    steps = []
    traj = simulate_replica(pricer, limits, input_len=inputs, output_len=outputs, arrival_s=arrivals,
                            prefilled=np.ones(n, dtype=bool), observer=lambda s, t, kv, k: steps.append((s, t, k)))
    steps = np.array(steps)
    assert np.array_equal(steps[:, 0], steps[:, 1])
    assert int((steps[:, 1] * steps[:, 2]).sum()) == int((outputs - 1).sum())
    assert np.all(np.isfinite(traj.finish_s)) and np.all(traj.first_token_s >= arrivals)
    assert np.all(traj.finish_s >= traj.first_token_s)
    # A one-token request has nothing left to decode: it finishes when taken in.
    ones = outputs == 1
    assert ones.any() and np.array_equal(traj.finish_s[ones], traj.first_token_s[ones])


def test_prefilled_admission_waits_for_kv_room_and_survives_preemption():
    """A small KV cache: requests wait for room (or are preempted and recomputed); every one still finishes."""
    pricer, limits = vllm_replica()
    layers = pricer.attention.full_layers
    small = replace(limits, kv_capacity_pairs=float(layers * 6000))
    n = 60
    inputs, outputs = np.full(n, 1500), np.full(n, 400)
    traj = simulate_replica(pricer, small, input_len=inputs, output_len=outputs, arrival_s=np.zeros(n),
                            prefilled=np.ones(n, dtype=bool))
    assert np.all(np.isfinite(traj.finish_s))
    assert traj.peak_kv_pairs <= small.kv_capacity_pairs
    # Only about 3 requests of 1,900 tokens fit 6,000: admissions are spread out over time.
    assert len(np.unique(traj.scheduled_s)) > n // 4


# -- the KV transfer ---------------------------------------------------------------------------------------

def test_transfer_time_is_bytes_over_bandwidth_plus_latency():
    # Llama-3.1-8B: 32 layers x 8 KV heads x 128 dims x (K, V) x 2 bytes = 131,072 bytes per token (config.json).
    link, _ = transfer_link(H100, 2)
    seconds = kv_transfer_s(np.array([2048]), attention=attention_of(MODEL, H100, PARAMS),
                            kv_bytes_per_pair=8 * 128 * 2 * 2, link=link, streams=1)
    assert seconds[0] == pytest.approx(2048 * 131072 / 450e9 + 0.6e-6, rel=1e-12)
    four = kv_transfer_s(np.array([2048]), attention=attention_of(MODEL, H100, PARAMS),
                         kv_bytes_per_pair=8 * 128 * 2 * 2, link=link, streams=4)
    assert four[0] == pytest.approx(2048 * 131072 / (4 * 450e9) + 0.6e-6, rel=1e-12)


def test_link_is_the_machines_until_the_pools_outgrow_it():
    assert transfer_link(H100, 8)[0].name.startswith("NVLink")
    assert transfer_link(H100, 9)[0].name.startswith("InfiniBand")
    # RNGD: the card-to-card PCIe Gen5 x16 peer-to-peer path (rngd.yaml inter_device_link, 63.0e9 B/s).
    link, why = transfer_link(RNGD, 8)
    assert link.bandwidth_bytes_per_s == 63.0e9 and "PCIe" in link.name and "one machine" in why
    assert transfer_link(RNGD, 16)[0].bandwidth_bytes_per_s == 6.25e9


def test_streams_are_the_devices_holding_distinct_kv():
    assert kv_streams(MODEL, H100, 4, 1) == 4
    assert kv_streams(MODEL, H100, 4, 2) == 8
    assert kv_streams(MODEL, H100, 16, 1) == 8  # 8 KV heads: no finer split
    assert kv_streams(MODEL, RNGD, 8, 1) == 1  # 8 PEs = one card
    assert kv_streams(MODEL, RNGD, 32, 1) == 4


# -- both pools ----------------------------------------------------------------------------------------------

def test_conservation_and_rates_at_low_load():
    result = disagg(traffic=traffic(rate=1.0, requests=1000))
    assert result.mode == "disagg" and not result.overloaded
    assert result.requests == 900  # every request finished; the first 10% not measured
    assert result.requests_per_s == pytest.approx(1.0, rel=0.1)
    assert result.output_tokens_per_s == pytest.approx(128.0, rel=0.1)
    assert result.prefill.replicas == 1 and result.decode.replicas == 1
    assert 0.0 < result.prefill.busy_fraction < 0.2 and 0.0 < result.decode.busy_fraction <= 1.0


def test_one_plus_one_is_aggregated_plus_the_transfer_at_low_load():
    t = traffic(rate=0.5, requests=600)
    agg = simulate_layout(MODEL, H100, dtype="bf16", kv_dtype="bf16", tp=1, pp=1, dp=1,
                          engine=load_engine("vllm", H100), traffic=t, params=PARAMS)
    dis = disagg(traffic=t)
    transfer = dis.kv_transfer_ms.mean
    assert transfer == pytest.approx(2048 * 131072 / 450e9 * 1e3 + 0.6e-3, rel=1e-6)
    # Alone on its replica a prefill is no slower than beside decodes; the transfer adds its time.
    assert dis.ttft_ms.p50 == pytest.approx(agg.ttft_ms.p50 + transfer, rel=0.05)
    assert dis.ttft_ms.p50 >= agg.ttft_ms.p50 * 0.95
    # Decode steps no longer carry prompts: TPOT no worse than aggregated.
    assert dis.tpot_ms.p90 <= agg.tpot_ms.p90


def test_more_decode_replicas_relieve_an_overloaded_decode_pool():
    t = traffic(rate=40.0, requests=2000, input_len=512, output_len=512)
    one = disagg(prefill=(1, 1, 1), decode=(1, 1, 1), traffic=t)
    four = disagg(prefill=(1, 1, 1), decode=(1, 1, 4), traffic=t)
    # 40 requests/s x 512 tokens: one decode replica (about 13,000 tokens/s here) falls behind, preempting.
    assert one.overloaded and one.ttft_ms is None and one.decode.preemptions > 0
    assert not four.overloaded and four.tpot_ms.p50 < one.tpot_ms.p50
    assert four.output_tokens_per_s == pytest.approx(40 * 512, rel=0.1)


def test_deterministic_for_a_seed():
    a = disagg(prefill=(1, 1, 2), decode=(2, 1, 1), traffic=traffic(rate=3.0, requests=500, seed=7))
    b = disagg(prefill=(1, 1, 2), decode=(2, 1, 1), traffic=traffic(rate=3.0, requests=500, seed=7))
    c = disagg(prefill=(1, 1, 2), decode=(2, 1, 1), traffic=traffic(rate=3.0, requests=500, seed=8))
    assert a.to_dict() == b.to_dict()
    assert a.to_dict() != c.to_dict()


def test_closed_loop_and_pools_that_do_not_fit_are_refused():
    closed = Traffic(requests=100, lengths=fixed_lengths(512, 64), concurrency=8, seed=0)
    with pytest.raises(InputError, match="--concurrency"):
        disagg(traffic=closed)
    big = load_model("llama-3.1-70b")
    with pytest.raises(InfeasibleError, match="prefill replica"):
        disagg(model=big, prefill=(1, 1, 1), decode=(4, 1, 1))
    with pytest.raises(InfeasibleError, match="decode replica"):
        disagg(model=big, prefill=(4, 1, 1), decode=(1, 1, 1))


def test_furiosa_disaggregates_from_2026_4_at_pp_1_only():
    # furiosa-llm.md section 2, 2026.4.0 row: "embedded MTP / PD-disaggregation require PP=1".
    shipped = load_engine("furiosa-llm", RNGD)
    with pytest.raises(InputError, match="2026.4"):
        check_disaggregation(shipped, prefill_pp=1, decode_pp=1)
    newer = replace(shipped, release="2026.4")
    check_disaggregation(newer, prefill_pp=1, decode_pp=1)
    with pytest.raises(InputError, match="--decode-pp"):
        check_disaggregation(newer, prefill_pp=1, decode_pp=2)
    check_disaggregation(load_engine("vllm", H100), prefill_pp=2, decode_pp=2)


def test_rngd_pools_move_kv_over_card_to_card_pcie():
    """With a 2026.4 profile (the 2026.3 scheduler limits relabelled) the RNGD pools run; the link is PCIe."""
    engine = replace(load_engine("furiosa-llm", RNGD), release="2026.4")
    result = disagg(prefill=(8, 1, 1), decode=(8, 1, 1), engine=engine, hardware=RNGD,
                    traffic=traffic(rate=0.5, requests=300, input_len=1024, output_len=64))
    assert "PCIe" in result.kv_link and not result.overloaded
    # One card each: one stream of 1,024 x 131,072 bytes over 63.0e9 B/s, plus 1 us.
    assert result.kv_transfer_ms.mean == pytest.approx((1024 * 131072 / 63.0e9 + 1e-6) * 1e3, rel=1e-6)
