"""Engine profiles (data files with sources) and Furiosa LLM's bucket padding (furiosa-llm.md section 6)."""
from __future__ import annotations

import numpy as np
import pytest

from autotune import Workload, simulate
from autotune.errors import InputError
from autotune.specs.hardware_loader import load_hardware
from cost_models.serving.engines import engine_names, load_engine

RNGD = load_hardware("rngd")


def test_every_profile_loads_and_names_its_source():
    for name in engine_names():
        profile = load_engine(name, load_hardware("h100-sxm"))
        assert profile.source.strip()
        assert profile.max_num_batched_tokens >= 1


def test_vllm_defaults_follow_the_device_as_arg_utils_does():
    # vllm/engine/arg_utils.py get_batch_defaults: >= 70 GiB and not an A100 -> 8192 tokens, 1024 sequences.
    h100 = load_engine("vllm", load_hardware("h100-sxm"))
    assert (h100.max_num_batched_tokens, h100.max_num_seqs) == (8192, 1024)
    a100 = load_engine("vllm", load_hardware("a100-sxm-80g"))
    assert (a100.max_num_batched_tokens, a100.max_num_seqs) == (2048, 256)
    l40s = load_engine("vllm", load_hardware("l40s"))
    assert (l40s.max_num_batched_tokens, l40s.max_num_seqs) == (2048, 256)
    old = load_engine("vllm", load_hardware("h100-sxm"), "0.8")
    assert (old.max_num_batched_tokens, old.max_num_seqs) == (2048, 256)


def test_only_vllm_rejects_a_budget_below_its_batch():
    # vllm/config/scheduler.py SchedulerConfig: max_num_batched_tokens "must be greater than or equal to
    # max_num_seqs"; SGLang, TensorRT-LLM and Furiosa LLM state no such rule.
    h100 = load_hardware("h100-sxm")
    for release in ("0.8", "0.10"):
        assert load_engine("vllm", h100, release).seqs_within_budget
    assert not any(load_engine(name, h100).seqs_within_budget for name in engine_names() if name != "vllm")


def test_sglang_chunk_size_by_device_memory():
    # sglang server_args.py: < 35 GiB 2048, < 160 GiB 8192, else 16384.
    assert load_engine("sglang", load_hardware("h100-sxm")).max_num_batched_tokens == 8192
    assert load_engine("sglang", load_hardware("b200")).max_num_batched_tokens == 16384


def test_unknown_engine_or_release_is_one_input_error():
    with pytest.raises(InputError, match="--engine"):
        load_engine("tgi", RNGD)
    with pytest.raises(InputError, match="--release"):
        load_engine("furiosa-llm", RNGD, "2023.1")


def test_furiosa_pads_a_three_sequence_batch_to_the_bs4_bucket():
    # Section 6 item 6: "a 3-sequence batch runs the bs=4 composed pipeline"; context padded to that batch
    # size's next attention bucket (item 2: powers of two from 1024, bs 4 up to 65536).
    buckets = load_engine("furiosa-llm", RNGD, "2026.3").buckets
    assert buckets.decode_batch(3) == 4
    assert buckets.decode_batch(129) == 256
    assert buckets.decode_batch(257) == 0
    assert buckets.attention_bucket(4, 700) == 1024
    assert buckets.attention_bucket(4, 1500) == 2048
    assert buckets.attention_bucket(256, 2048) == 2048
    assert buckets.attention_bucket(256, 2049) == 0  # (256, 2K) is the widest bucket of batch 256
    assert buckets.padded_chunk(300) == 384  # prefill chunks in steps of 128


def test_furiosa_decode_steps_of_three_and_four_sequences_cost_the_same():
    """The padded shape sets the decode step: three clients' decode steps equal four's, and beat five's (bs 8)."""
    w = Workload(input_len=300, output_len=400, dtype="fp8")

    def decode_step_ms(clients: int) -> float:
        return simulate("qwen3-4b", "rngd", w, tp=8, concurrency=clients, requests=40 * clients).itl_ms.p50

    assert decode_step_ms(3) == pytest.approx(decode_step_ms(4), rel=1e-12)
    assert decode_step_ms(5) > decode_step_ms(4)
    assert decode_step_ms(2) < decode_step_ms(3)


def test_furiosa_largest_decode_bucket_bounds_the_batch():
    w = Workload(input_len=200, output_len=100, dtype="fp8")
    result = simulate("qwen3-4b", "rngd", w, tp=8, concurrency=400, requests=2000)
    assert result.max_num_seqs == 256
    # 400 clients, 256 in the engine: the others queue.
    assert result.queueing_ms.p50 > 0


def test_furiosa_never_mixes_prefill_and_decode():
    from cost_models.params import load_params
    from cost_models.serving.scheduler import simulate_replica
    from cost_models.serving.simulator import prepare_replica
    from autotune.specs.model_loader import load_model

    pricer, limits = prepare_replica(load_model("qwen3-4b"), RNGD, dtype="fp8", kv_dtype="fp8", tp=8, pp=1,
                                     engine=load_engine("furiosa-llm", RNGD), params=load_params())
    steps = []
    simulate_replica(pricer, limits, input_len=np.full(60, 2500), output_len=np.full(60, 50), concurrency=12,
                     observer=lambda seqs, tokens, kv, k: steps.append((seqs, tokens)))
    steps = np.array(steps)
    prefill = steps[:, 1] > steps[:, 0]
    assert prefill.any() and (~prefill).any()
    assert np.all(steps[prefill, 0] == 1)  # a prefill step is one batch-1 chunk
    assert steps[prefill, 1].max() == 1024  # chunks of at most 1024 tokens (extend buckets)


def test_sglang_runs_prefill_batches_apart_from_decode():
    """SGLang server_args enable_mixed_chunk False: a step is a prefill batch (several prompts, up to
    chunked_prefill_size tokens) or a decode batch."""
    from autotune.specs.model_loader import load_model
    from cost_models.params import load_params
    from cost_models.serving.scheduler import simulate_replica
    from cost_models.serving.simulator import prepare_replica

    h100 = load_hardware("h100-sxm")
    pricer, limits = prepare_replica(load_model("llama-3.1-8b"), h100, dtype="bf16", kv_dtype="bf16", tp=1, pp=1,
                                     engine=load_engine("sglang", h100), params=load_params())
    steps = []
    simulate_replica(pricer, limits, input_len=np.full(200, 1500), output_len=np.full(200, 40), concurrency=32,
                     observer=lambda seqs, tokens, kv, k: steps.append((seqs, tokens)))
    steps = np.array(steps)
    prefill = steps[:, 1] > steps[:, 0]
    assert steps[prefill, 0].max() > 1  # several prompts in one prefill batch
    assert steps[prefill, 1].max() == 8192  # chunked_prefill_size on an 80 GB device
    assert np.all(steps[prefill, 1] >= steps[prefill, 0])


def test_a_request_longer_than_every_attention_bucket_is_infeasible():
    from autotune.errors import InfeasibleError

    with pytest.raises(InfeasibleError, match="2048"):
        simulate("qwen3-4b", "rngd", Workload(input_len=3000, output_len=600, dtype="fp8"), tp=8, concurrency=4,
                 release="2025.3")
