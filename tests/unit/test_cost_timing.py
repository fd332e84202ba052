"""Time formulas against hand calculations: roofline, MoE experts touched, all-reduce, pipeline."""
from __future__ import annotations

import numpy as np
import pytest

from cost_models import comm, timing
from cost_models.params import load_params
from tests.unit.test_cost_memory import device, rows, tiny_model

PARAMS = load_params()


def test_ring_allreduce_bandwidth_and_latency_terms():
    # 4 members, 1 MB, 1 GB/s at 50%: 2 x 3/4 x 1e6 / 0.5e9 = 3 ms, plus 2 x 3 steps of 1 us.
    got = comm.ring_allreduce_time_s(np.array([1e6]), np.array([4.0]), np.array([1e9]), np.array([1e-6]), 0.5)
    assert got[0] == pytest.approx(3e-3 + 6e-6)


def test_ring_allreduce_of_one_member_costs_nothing():
    got = comm.ring_allreduce_time_s(np.array([1e6]), np.array([1.0]), np.array([1e9]), np.array([1e-6]), 0.5)
    assert got[0] == 0.0


def test_tp_allreduce_across_rngd_cards_adds_the_inter_card_ring():
    model = tiny_model()
    card = device(units=8)
    message = np.array([1e6])
    within = comm.tp_allreduce_time_s(rows(model, card, tp=8), message, PARAMS)[0]
    across = comm.tp_allreduce_time_s(rows(model, card, tp=16), message, PARAMS)[0]
    eff = PARAMS.comm_bandwidth_efficiency
    # Two cards on an NVLink-class link, NCCL's faster protocol (tuning.cc): LL at a quarter of
    # the bandwidth, 3.6 us base; Simple at full bandwidth, 8.4 us base, steps 3.4/0.47 x longer.
    ll = 2 * 1 / 2 * 1e6 / (1e11 * eff * 0.25) + 2 * 1e-6 + 3.6e-6
    simple = 2 * 1 / 2 * 1e6 / (1e11 * eff) + 2 * 1e-6 * 3.4 / 0.47 + 8.4e-6
    assert across == pytest.approx(within + min(ll, simple))


def test_nccl_allreduce_takes_ll_for_small_and_simple_for_large_messages():
    # 8 GPUs, 100 GB/s at 100%, 1 us LL step latency on NVLink (NVIDIA/nccl tuning.cc ratios).
    n, bw, lat, eff = np.array([8.0]), np.array([1e11]), np.array([1e-6]), np.array([1.0])

    def by_hand(size: float) -> tuple[float, float]:
        volume = 2 * 7 / 8 * size
        ll = volume / (bw[0] * 0.25) + 14 * 1e-6 + 3.6e-6
        simple = volume / bw[0] + 14 * 1e-6 * 3.4 / 0.47 + 8.4e-6
        return ll, simple

    for size in (16e3, 100e6):
        ll, simple = by_hand(size)
        got = comm.nccl_allreduce_time_s(np.array([size]), n, bw, lat, eff, "nvlink")[0]
        assert got == pytest.approx(min(ll, simple))
    assert by_hand(16e3)[0] < by_hand(16e3)[1]      # a batch-1 message goes LL
    assert by_hand(100e6)[1] < by_hand(100e6)[0]    # a prefill message goes Simple
    assert comm.nccl_allreduce_time_s(np.array([1e6]), np.array([1.0]), bw, lat, eff, "pcie")[0] == 0.0


def test_expected_experts_touched():
    model = tiny_model()
    r = rows(model, device())
    r = type(r)(**{**r.__dict__, "num_experts": np.array([8.0]), "experts_per_token": np.array([2.0])})
    assert timing.expected_experts_touched(r, np.array([1.0]))[0] == pytest.approx(2.0)
    assert timing.expected_experts_touched(r, np.array([2.0]))[0] == pytest.approx(8 * (1 - 0.75 ** 2))
    assert timing.expected_experts_touched(r, np.array([1000.0]))[0] == pytest.approx(8.0)


def test_smooth_roofline_limits():
    c, m = np.array([3.0]), np.array([4.0])
    assert timing.smooth_roofline_s(c, m, 1.0)[0] == pytest.approx(7.0)
    assert timing.smooth_roofline_s(c, m, 2.0)[0] == pytest.approx(5.0)
    assert timing.smooth_roofline_s(c, m, 100.0)[0] == pytest.approx(4.0, rel=1e-3)


def test_stage_flops_of_a_decode_step():
    model = tiny_model()
    r = rows(model, device(), batch=3, input_len=100, output_len=28)
    work = timing.StageWork(decode_tokens=np.array([3.0]), prefill_tokens=np.array([0.0]),
                            prefill_sequences=np.array([0.0]))
    layers = 2.0 * sum(model.layer_active_params) * 3
    attention = 2.0 * 4 * (16 + 16) * 4 * (100 + 14) * 3   # heads x (qk + v) x layers x mean context x tokens
    head = 2.0 * 1000 * 64 * 3
    assert timing.stage_flops(r, work)[0] == pytest.approx(layers + attention + head)


def test_attention_flops_run_at_their_own_efficiency():
    # Same decode step as above on a 100 TFLOPS device; memory, comm and overheads switched off so
    # only compute remains: GEMM FLOPs at compute_efficiency_16bit, attention FLOPs at
    # attention_compute_efficiency (time = FLOPs / (peak x efficiency)).
    model = tiny_model()
    r = rows(model, device(), batch=3, input_len=100, output_len=28)
    work = timing.StageWork(decode_tokens=np.array([3.0]), prefill_tokens=np.array([0.0]),
                            prefill_sequences=np.array([0.0]))
    attention = 2.0 * 4 * (16 + 16) * 4 * (100 + 14) * 3
    assert timing.stage_attention_flops(r, work)[0] == pytest.approx(attention)
    gemm = 2.0 * sum(model.layer_active_params) * 3 + 2.0 * 1000 * 64 * 3
    params = PARAMS.with_values(compute_efficiency_16bit=0.5, attention_compute_efficiency=0.25,
                                bandwidth_efficiency=1e12, attention_bandwidth_efficiency=1e12,
                                layer_overhead_s=0.0, roofline_sharpness=1.0)
    got = timing.stage_time_s(r, params, work)[0]
    assert got == pytest.approx(gemm / (100e12 * 0.5) + attention / (100e12 * 0.25), rel=1e-6)


def test_decode_traffic_reads_weights_once_and_kv_per_sequence():
    model = tiny_model()
    r = rows(model, device(), batch=3, input_len=100, output_len=28)
    work = timing.StageWork(decode_tokens=np.array([3.0]), prefill_tokens=np.array([0.0]),
                            prefill_sequences=np.array([0.0]))
    weights, kv = timing.stage_traffic_bytes_per_unit(r, work)
    assert weights[0] == pytest.approx((sum(model.layer_params) + model.lm_head_params) * 2.0)
    assert kv[0] == pytest.approx(3 * model.kv_cache_bytes(114, "bf16"))


def test_pipeline_token_latency_is_the_sum_of_stages_and_transfers():
    # Each stage is one engine iteration on its own rank: its step overhead is paid per stage.
    model = tiny_model(layers=4)
    r = rows(model, device(), pp=2, batch=4)
    cycle = timing.decode_cycle_s(r, PARAMS, np.array([4.0]), np.array([0.0]))[0]
    work = timing.StageWork(decode_tokens=np.array([2.0]), prefill_tokens=np.array([0.0]),
                            prefill_sequences=np.array([0.0]))
    stage = timing.stage_time_s(r, PARAMS, work)[0]
    transfer = comm.pp_transfer_time_s(r, np.array([2.0 * 64 * PARAMS.activation_bytes_per_element]), PARAMS)[0]
    # The micro-batch's 2 sequences each add their per-sequence cost once, not per stage.
    assert cycle == pytest.approx(2 * (stage + PARAMS.step_overhead_s) + transfer + 2 * PARAMS.sequence_overhead_s)


def test_each_sequence_adds_its_overhead_once_per_pass():
    model = tiny_model(layers=4)
    r = rows(model, device(), batch=8)
    params = PARAMS.with_values(sequence_overhead_s=5e-6)
    without = PARAMS.with_values(sequence_overhead_s=0.0)
    got = timing.decode_cycle_s(r, params, np.array([8.0]), np.array([0.0]))[0]
    base = timing.decode_cycle_s(r, without, np.array([8.0]), np.array([0.0]))[0]
    assert got - base == pytest.approx(8 * 5e-6)


def test_more_prefill_mixed_in_makes_decode_slower():
    model = tiny_model()
    r = rows(model, device(), batch=8)
    pure = timing.decode_cycle_s(r, PARAMS, np.array([8.0]), np.array([0.0]))[0]
    mixed = timing.decode_cycle_s(r, PARAMS, np.array([8.0]), np.array([4.0]))[0]
    assert mixed > pure
