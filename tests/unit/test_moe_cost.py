"""Expert parallel (ep) and attention data parallel (adp) in the cost model, against hand calculations."""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from autotune.specs.candidates import Candidates
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.workload import Workload
from cost_models import memory, timing
from cost_models.comm import tp_allreduce_time_s
from cost_models.evaluate import evaluate
from cost_models.inputs import build_inputs
from cost_models.measurements import read_measurements
from cost_models.params import load_params

PARAMS = load_params()
DEEPSEEK = load_model("deepseek-ai/DeepSeek-V3")
QWEN = load_model("Qwen/Qwen3-30B-A3B")
H200 = load_hardware("h200-sxm")


def rows_of(model, *, ep, adp, tp=8, batch=64.0, hardware=H200):
    """Returns one row per (ep, adp) pair at tp, fp8, 1024 in / 1024 out."""
    n = len(ep)
    return build_inputs(model, hardware, input_len=1024, output_len=1024, dtype="fp8", kv_dtype="fp8",
                        tp=np.full(n, tp), pp=np.ones(n), dp=np.ones(n), batch=np.full(n, batch), params=PARAMS,
                        ep=np.asarray(ep), adp=np.asarray(adp))


def decode_work(tokens: float, n: int) -> timing.StageWork:
    return timing.StageWork(decode_tokens=np.full(n, tokens), prefill_tokens=np.zeros(n),
                            prefill_sequences=np.zeros(n))


@pytest.mark.parametrize("model", [DEEPSEEK, QWEN])
def test_general_formulas_reduce_to_plain_tensor_parallel_at_ep_adp_1(model):
    # The EP / attention-DP formulas are the plain ones when both degrees are 1 (up to rounding);
    # the code takes the plain path there, so today's numbers stay bit for bit.
    rows = rows_of(model, ep=[1, 1], adp=[1, 1], tp=8, batch=32.0)
    work = timing.StageWork(decode_tokens=np.array([32.0, 5.0]), prefill_tokens=np.array([100.0, 2048.0]),
                            prefill_sequences=np.array([0.1, 2.0]))
    np.testing.assert_allclose(timing._moe_parallel_flops(rows, work), timing.stage_flops(rows, work), rtol=1e-12)
    tokens = np.array([32.0, 4096.0])
    np.testing.assert_allclose(timing._moe_parallel_comm_s(rows, PARAMS, tokens),
                               timing.stage_comm_s(rows, PARAMS, tokens), rtol=1e-12)


def test_routed_experts_take_one_tp_th_per_device_whatever_ep():
    # E / ep whole experts per EP group, each split over tp / ep GPUs: E / tp experts' worth per GPU.
    rows = rows_of(DEEPSEEK, ep=[1, 2, 8], adp=[1, 1, 1])
    weights = memory.weights_bytes(rows)
    assert weights[0] == pytest.approx(weights[1], rel=1e-12)
    assert weights[0] == pytest.approx(weights[2], rel=1e-12)


def test_attention_dp_holds_a_copy_of_the_non_routed_weights_per_group():
    rows = rows_of(DEEPSEEK, ep=[8, 8], adp=[1, 8])
    moe_layers = float(rows.moe_layers[0])
    nonrouted = sum(DEEPSEEK.layer_params) - moe_layers * DEEPSEEK.num_experts * DEEPSEEK.expert_params
    assert float(rows.kv_proj_params[0]) == 0.0  # MLA: no separate K/V projections
    per_param = float(rows.weight_bytes_per_param[0])
    extra = nonrouted * (1.0 - 1.0 / 8.0) * per_param  # tp / adp = 1 GPU holds it all instead of 1/8
    delta = memory.weights_bytes(rows)
    assert delta[1] - delta[0] == pytest.approx(extra, rel=1e-9)


def test_attention_dp_splits_the_kv_cache_by_request():
    # MLA (one latent KV per token, not split by TP): each GPU holds its group's 1/adp of the sequences.
    rows = rows_of(DEEPSEEK, ep=[1, 1, 1], adp=[1, 2, 8])
    kv = memory.kv_cache_bytes(rows)
    assert kv[1] == pytest.approx(kv[0] / 2.0, rel=1e-12)
    assert kv[2] == pytest.approx(kv[0] / 8.0, rel=1e-12)
    # GQA with 4 KV heads at TP 8: TP splits them 4 ways (4 copies); adp 8 leaves 1 GPU per group holding
    # all 4 heads of 1/8 of the sequences: half of TP's bytes.
    rows = rows_of(QWEN, ep=[1, 1], adp=[1, 8])
    kv = memory.kv_cache_bytes(rows)
    assert QWEN.num_key_value_heads == 4
    assert kv[1] == pytest.approx(kv[0] / 2.0, rel=1e-12)


def test_attention_dp_fits_more_sequences_for_mla():
    candidates = Candidates(tp=np.array([8, 8]), pp=np.ones(2, dtype=np.int64), dp=np.ones(2, dtype=np.int64),
                            batch=np.array([64, 64]), cards=8, ep=np.array([8, 8]), adp=np.array([1, 8]))
    table = evaluate(DEEPSEEK, H200, Workload(input_len=1024, output_len=2048, dtype="fp8"), candidates)
    assert table.max_batch[1] > 4 * table.max_batch[0]


def test_ep_load_imbalance_is_the_balls_into_bins_maximum():
    rows = rows_of(DEEPSEEK, ep=[1, 8, 8, 8, 8], adp=[1, 1, 1, 1, 1])
    m = np.array([1000.0, 1000.0, 1e6, 1.0, 4.0])
    got = timing.ep_load_imbalance(rows, m)
    assert got[0] == 1.0
    assert got[1] == pytest.approx(1.0 + math.sqrt(2.0 * 8 * math.log(8) / 1000.0))
    assert 1.0 < got[2] < 1.01
    assert got[3] == 8.0  # one choice: its group holds everything (the cap, n)
    assert got[4] == pytest.approx(1.0 + math.sqrt(2.0 * 8 * math.log(8) / 4.0))  # above n / m = 2


def test_steady_state_attention_dp_waits_for_the_busiest_rank_at_the_measured_balance_ratio():
    from cost_models.inputs import ADP_BALANCE_RATIO_BALANCED, ADP_BALANCE_RATIO_ROUND_ROBIN
    rows = build_inputs(DEEPSEEK, H200, input_len=1024, output_len=1024, dtype="fp8", kv_dtype="fp8",
                        tp=np.full(3, 8), pp=np.ones(3), dp=np.ones(3), batch=np.full(3, 512.0), params=PARAMS,
                        ep=np.full(3, 8), adp=np.array([1, 8, 8]), adp_balanced=np.array([False, False, True]))
    work = timing.StageWork(decode_tokens=np.full(3, 512.0), prefill_tokens=np.full(3, 512.0),
                            prefill_sequences=np.full(3, 0.5), steady_state=True)
    decode, prefill = timing.attention_group_factors(rows, work)
    np.testing.assert_allclose(decode, [1.0, 1.0 / ADP_BALANCE_RATIO_ROUND_ROBIN, 1.0 / ADP_BALANCE_RATIO_BALANCED])
    np.testing.assert_allclose(prefill, decode)
    # TensorRT-LLM blog10 "Performance Summary": average balance ratio 54.11% (round-robin), 87.70% (ADP balance).
    assert (ADP_BALANCE_RATIO_ROUND_ROBIN, ADP_BALANCE_RATIO_BALANCED) == (0.5411, 0.8770)


def test_a_pure_decode_step_deals_sequences_whole_without_the_steady_state_imbalance():
    # A static batch decodes every sequence in every step: no prompt makes one rank the busiest.
    rows = rows_of(DEEPSEEK, ep=[8, 8], adp=[8, 8], batch=64.0)
    pure = timing.decode_cycle_s(rows, PARAMS, np.full(2, 64.0), np.zeros(2))
    balanced = replace(rows, adp_balance_ratio=np.ones(2))
    np.testing.assert_array_equal(pure, timing.decode_cycle_s(balanced, PARAMS, np.full(2, 64.0), np.zeros(2)))
    mixed = timing.decode_cycle_s(rows, PARAMS, np.full(2, 64.0), np.ones(2))
    assert np.all(mixed > timing.decode_cycle_s(balanced, PARAMS, np.full(2, 64.0), np.ones(2)))


def test_busiest_attention_group_share():
    adp = np.full(5, 8.0)
    share = timing._busiest_share(np.array([1.0, 8.0, 9.0, 64.0, 0.5]), adp)
    # 1 sequence: one group does it all (x8); 8 and 64: even; 9: the busiest holds 2 of 9; half a prompt: x8.
    np.testing.assert_allclose(share, [8.0, 1.0, 2.0 * 8.0 / 9.0, 1.0, 8.0])
    assert timing._busiest_share(np.array([3.0]), np.array([1.0]))[0] == 1.0


def test_ep_with_attention_dp_all_gathers_and_reduce_scatters_as_the_engines_do():
    """Attention DP + EP on one machine: every MoE and dense MLP layer all-gathers the groups' tokens and
    reduce-scatters its outputs over the 8 GPUs, one ring all-reduce's traffic (TensorRT-LLM's CUTLASS MoE,
    NVIDIA/TensorRT-LLM@000a01de66f0eab4ab05640711f0253f50f5209c fused_moe_cutlass.py; vLLM's default
    VLLM_ALL2ALL_BACKEND "allgather_reducescatter"); attention tp = 1: no attention all-reduce."""
    rows = rows_of(DEEPSEEK, ep=[8], adp=[8])
    tokens = np.array([2048.0])
    got = timing.stage_comm_s(rows, PARAMS, tokens)
    message = tokens * DEEPSEEK.hidden_size * PARAMS.activation_bytes_per_element
    allreduce = float(tp_allreduce_time_s(rows, message, PARAMS)[0])
    assert got[0] == pytest.approx(DEEPSEEK.num_layers * allreduce, rel=1e-12)
    # The same traffic as attention DP without EP: EP changes where experts sit, not what moves.
    no_ep = timing.stage_comm_s(rows_of(DEEPSEEK, ep=[1], adp=[8]), PARAMS, tokens)
    assert got[0] == no_ep[0]


def test_ep_without_attention_dp_keeps_tensor_parallel_collectives():
    # Every GPU holds every token after the attention all-reduce: the MoE layer ends in one all-reduce.
    rows = rows_of(DEEPSEEK, ep=[1, 2, 8], adp=[1, 1, 1])
    comm = timing.stage_comm_s(rows, PARAMS, np.full(3, 512.0))
    np.testing.assert_allclose(comm[1:], comm[0], rtol=1e-12)


def test_expert_parallel_reads_more_expert_weights_at_batch_one():
    # One token picks 8 of 256 experts: under TP every GPU reads 1/8 of each (1 expert's worth); under EP 8 the
    # busiest GPU reads the whole experts that land on it, more than one on average over the 8 GPUs.
    rows = rows_of(DEEPSEEK, ep=[1, 8], adp=[1, 1], batch=1.0)
    weights, _ = timing.stage_traffic_bytes_per_unit(rows, decode_work(1.0, 2))
    assert weights[1] > weights[0]


def test_degrees_that_do_not_divide_tp_are_priced_as_plain_tp():
    # The solver lists such rows only to say which rule they break (moe_divides_tp); pricing must not fail.
    odd = rows_of(DEEPSEEK, ep=[3], adp=[1])
    plain = rows_of(DEEPSEEK, ep=[1], adp=[1])
    assert odd.ep.tolist() == plain.ep.tolist() == [1.0]
    with pytest.raises(ValueError, match="ep must be >= 1"):
        rows_of(DEEPSEEK, ep=[0], adp=[1])


def test_measurement_rows_read_ep_and_adp(tmp_path: Path):
    header = ("row_id,model_id,hardware_id,dtype,tensor_parallel,pipeline_parallel,data_parallel,expert_parallel,"
              "attention_data_parallel,kv_cache_dtype,input_len,output_len,batch_or_concurrency,load_type,"
              "throughput_output_tok_s_total,ttft_ms,tpot_or_itl_ms,e2e_latency_s\n")
    body = ("a,deepseek-ai/DeepSeek-V3,h200-sxm,fp8,8,1,1,8,8,bf16,1024,2048,max_num_seqs 1024 max_num_tokens 1151,"
            "offline_max_throughput,11489,,,\n"
            "b,deepseek-ai/DeepSeek-V3,h200-sxm,fp8,8,1,1,3,,,1024,2048,,offline_max_throughput,100,,,\n"
            "c,deepseek-ai/DeepSeek-V3,h200-sxm,fp8,8,1,1,,,,1024,2048,,offline_max_throughput,100,,,\n")
    path = tmp_path / "m.csv"
    path.write_text(header + body)
    used, skipped = read_measurements(path)
    assert [(r.row_id, r.ep, r.adp, r.kv_dtype) for r in used] == [("a", 8, 8, "bf16"), ("c", 1, 1, "fp8")]
    assert used[0].engine_max_batch == 1024 and used[0].engine_max_num_tokens == 1151
    assert [s.reason for s in skipped] == ["expert_parallel and attention_data_parallel must divide tensor_parallel"]


def test_validate_prices_the_layout_the_row_ran():
    from cost_models.regimes import predict, prepare
    rows, skipped = read_measurements("builtin:moe")
    assert not skipped
    rows = [r for r in rows if r.ep > 1]
    assert len(rows) > 40 and all(r.adp == r.ep == r.tp for r in rows)  # TensorRT-LLM's DEP layouts
    as_run = predict(prepare(rows, PARAMS), PARAMS)
    as_tp = predict(prepare([replace(r, ep=1, adp=1) for r in rows], PARAMS), PARAMS)
    assert np.all(as_run["throughput"] != as_tp["throughput"])
    # MLA keeps one latent per token on every TP rank; attention DP splits it by request, so the engine
    # holds several times the sequences it holds under plain TP on the same GPUs.
    mla = np.array([r.model_key == "deepseek-ai/DeepSeek-V3" for r in rows])
    assert mla.sum() >= 9
    assert np.all(as_run["batch"][mla] > 2.5 * as_tp["batch"][mla])


def test_mixed_dense_and_moe_rows_price_without_floating_point_warnings():
    from cost_models.inputs import concat_inputs
    dense = build_inputs(load_model("meta-llama/Llama-3.1-8B"), H200, input_len=128, output_len=128, dtype="fp8",
                         kv_dtype="fp8", tp=np.array([2]), pp=np.ones(1), dp=np.ones(1), batch=np.ones(1),
                         params=PARAMS)
    rows = concat_inputs([dense, rows_of(QWEN, ep=[2], adp=[2], tp=2)])
    with np.errstate(all="raise"):
        comm = timing.stage_comm_s(rows, PARAMS, np.array([64.0, 64.0]))
    assert np.all(np.isfinite(comm)) and np.all(comm > 0)
