"""Mixture-of-experts degrees (issue 10 section 1): expert parallel (EP) and attention data parallel (ADP).

What each space runs and why (search_spaces/*.yaml `moe_parallel`): the GPU engines run EP and ADP of 1 or all
the TP GPUs of a stage (vLLM --enable-expert-parallel spans every rank; TensorRT-LLM enable_attention_dp makes
every rank its own attention replica; SGLang --ep-size/--dp-size take any divisor); no Furiosa LLM release has
either option (tests/data/furiosa-llm-signatures.json). These tests check structure, rules and outputs; the
cost model prices EP and ADP in the cost-model side of the issue, and the one test that needs those costs is
marked below.
"""
from __future__ import annotations

import shlex

import numpy as np
import pytest

from autotune import api
from autotune.errors import InputError
from autotune.outputs import report
from autotune.outputs.emit import emit
from autotune.parallel_plan import ParallelPlan
from autotune.solver import rules
from autotune.solver.search import build_problem
from autotune.specs.hardware_loader import load_hardware
from autotune.specs.model_loader import load_model
from autotune.specs.space import load_space, parse_space
from autotune.specs.workload import Workload
from tests.shared_data import TEST_DATA
from tests.unit.test_emit_gpu import argv_of, option_map

H100 = load_hardware("h100-sxm")
RNGD = load_hardware("rngd")
QWEN3_MOE = load_model("qwen3-30b-a3b")      # 128 routed experts (its config.json num_experts)
MIXTRAL = load_model("mixtral-8x7b-v0.1")    # 8 routed experts (num_local_experts)
LLAMA_8B = load_model("llama-3.1-8b")        # dense
WORKLOAD = Workload(input_len=2048, output_len=512)


def superset(space_name: str, hardware, model, cards: int) -> set[tuple[int, ...]]:
    tp, pp, dp = rules.degree_superset(load_space(space_name), hardware, model, cards)
    columns = rules.moe_degree_superset(load_space(space_name), model, tp, pp, dp)
    return {tuple(int(v) for v in row) for row in np.stack(columns, axis=1)}


# ---------------------------------------------------------------------------------------------
# Which rows exist


def test_gpu_space_adds_ep_and_adp_of_one_or_all_of_tp_for_an_moe_model():
    rows = superset("gpu", H100, QWEN3_MOE, 4)
    by_tp: dict[int, set[tuple[int, int]]] = {}
    for tp, _, _, ep, adp in rows:
        by_tp.setdefault(tp, set()).add((ep, adp))
    assert by_tp[1] == {(1, 1)}
    assert by_tp[2] == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert by_tp[4] == {(1, 1), (1, 4), (4, 1), (4, 4)}
    # Every plain layout is still there, once per (EP, ADP).
    plain = {r[:3] for r in rows}
    assert plain == {tuple(int(v) for v in r) for r in np.stack(rules.degree_superset(
        load_space("gpu"), H100, QWEN3_MOE, 4), axis=1)}


def test_dense_models_and_furiosa_spaces_keep_ep_and_adp_at_one():
    assert {(r[3], r[4]) for r in superset("gpu", H100, LLAMA_8B, 8)} == {(1, 1)}
    for name in ("furiosa-2024.2", "furiosa-2025.3", "furiosa-2026.4"):
        assert {(r[3], r[4]) for r in superset(name, RNGD, QWEN3_MOE, 4)} == {(1, 1)}


def test_ep_divides_the_routed_experts():
    # Mixtral has 8 experts: TP 16 (two machines' worth) may not split them 16 ways.
    rows = superset("gpu", H100, MIXTRAL, 16)
    assert {(r[3], r[4]) for r in rows if r[0] == 16} == {(1, 1), (1, 16)}
    assert {(r[3], r[4]) for r in rows if r[0] == 8} == {(1, 1), (1, 8), (8, 1), (8, 8)}


def test_the_row_count_stays_within_four_times_the_plain_layouts():
    # (EP, ADP) in {1, TP}^2: at most 4 rows per plain layout, 1 for TP 1 (DeepSeek-V3 on 16 H100s: 110 -> 234).
    deepseek = load_model("deepseek-v3")
    tp, pp, dp = rules.degree_superset(load_space("gpu"), H100, deepseek, 16)
    moe = rules.moe_degree_superset(load_space("gpu"), deepseek, tp, pp, dp)
    assert len(tp) == 110 and len(moe[0]) == 234
    assert len(moe[0]) <= 4 * len(tp)


# ---------------------------------------------------------------------------------------------
# Rules


def check(space_name, hardware, model, cards, tp, ep, adp, pp=1, dp=1):
    results = rules.check_rules(load_space(space_name), hardware, model, cards, np.array([tp]), np.array([pp]),
                                np.array([dp]), ep=np.array([ep]), adp=np.array([adp]))
    return {r.rule_id: r.message(0) for r in results if r.violated[0]}


def test_gpu_rules_allow_one_or_all_and_say_why_not_a_part():
    assert check("gpu", H100, QWEN3_MOE, 8, tp=8, ep=8, adp=8) == {}
    assert check("gpu", H100, QWEN3_MOE, 8, tp=8, ep=1, adp=8) == {}
    broken = check("gpu", H100, QWEN3_MOE, 8, tp=8, ep=2, adp=1)
    assert list(broken) == ["ep_allowed"]
    assert "EP 2 with TP 8 not run by gpu" in broken["ep_allowed"] and "--enable-expert-parallel" in broken["ep_allowed"]
    broken = check("gpu", H100, QWEN3_MOE, 8, tp=8, ep=1, adp=4)
    assert list(broken) == ["adp_allowed"] and "enable_attention_dp" in broken["adp_allowed"]


def test_furiosa_rules_say_not_supported():
    broken = check("furiosa-2026.4", RNGD, QWEN3_MOE, 4, tp=16, ep=2, adp=1)
    assert "ep_allowed" in broken
    assert "EP is 1 only" in broken["ep_allowed"] and "not supported" in broken["ep_allowed"]
    assert "adp_allowed" in check("furiosa-2026.4", RNGD, QWEN3_MOE, 4, tp=16, ep=1, adp=2)


def test_dense_models_divisors_and_experts():
    assert "moe_model" in check("gpu", H100, LLAMA_8B, 8, tp=8, ep=8, adp=1)
    assert "dense" in check("gpu", H100, LLAMA_8B, 8, tp=8, ep=8, adp=1)["moe_model"]
    broken = check("gpu", H100, QWEN3_MOE, 8, tp=4, ep=8, adp=3)
    assert "EP 8 and attention DP 3 do not divide TP 4" in broken["moe_divides_tp"]
    assert "ep_divides_experts" in check("gpu", H100, MIXTRAL, 16, tp=16, ep=16, adp=1)


def test_attention_heads_are_split_over_attention_tp_only():
    # 6 heads: TP 4 does not divide them, but TP 4 with attention DP 4 leaves attention TP 1, which does.
    few_heads = load_model("qwen3-30b-a3b").__class__(**{**load_model("qwen3-30b-a3b").__dict__,
                                                        "num_attention_heads": 6})
    assert "tp_divides_heads" in check("gpu", H100, few_heads, 4, tp=4, ep=1, adp=1)
    assert "tp_divides_heads" not in check("gpu", H100, few_heads, 4, tp=4, ep=1, adp=4)


def test_plain_layouts_see_only_the_rules_they_always_had():
    results = rules.check_rules(load_space("gpu"), H100, QWEN3_MOE, 8, np.array([8]), np.array([1]), np.array([1]))
    assert not {r.rule_id for r in results} & {"moe_model", "moe_divides_tp", "ep_divides_experts", "ep_allowed",
                                                "adp_allowed"}


# ---------------------------------------------------------------------------------------------
# Space files


def test_every_space_states_its_moe_rules_with_a_source():
    for name in ("gpu", "furiosa-2024.2", "furiosa-2025.2", "furiosa-2025.3", "furiosa-2026.3", "furiosa-2026.4"):
        space = load_space(name)
        assert space.moe_parallel_source
        if name == "gpu":
            assert (space.expert_parallel, space.attention_data_parallel) == ("one_or_all", "one_or_all")
        else:
            assert (space.expert_parallel, space.attention_data_parallel) == ("none", "none")
            assert space.moe_parallel_source.startswith("not supported")


def test_no_furiosa_release_has_an_expert_or_attention_dp_flag():
    # The source of the Furiosa spaces' "not supported": every flag and keyword of every release's builder,
    # serve command and LLM API, from the wheels.
    text = (TEST_DATA / "furiosa-llm-signatures.json").read_text().lower()
    assert "data_parallel" in text   # the file does list parallel options
    for word in ("expert", "moe", "ep_size", "attention_dp", "dp_attention"):
        assert word not in text


@pytest.mark.parametrize("section, expected", [
    ({"expert_parallel": "some"}, "moe_parallel.expert_parallel"),
    ({"attention_data_parallel": 2}, "moe_parallel.attention_data_parallel"),
    ({"expert_paralel": "none"}, "expert_paralel"),
])
def test_bad_moe_keys_are_one_line_input_errors(tmp_path, section, expected):
    import yaml
    from autotune.specs.space import SPACE_DIR

    data = yaml.safe_load((SPACE_DIR / "gpu.yaml").read_text())
    data["moe_parallel"] = section
    with pytest.raises(InputError) as info:
        parse_space(data, source="bad.yaml")
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_a_space_without_the_section_runs_plain_tp():
    import yaml
    from autotune.specs.space import SPACE_DIR

    data = yaml.safe_load((SPACE_DIR / "gpu.yaml").read_text())
    del data["moe_parallel"]
    space = parse_space(data, source="old.yaml")
    assert (space.expert_parallel, space.attention_data_parallel) == ("none", "none")


# ---------------------------------------------------------------------------------------------
# Solver, pins and plans


def test_top_k_distinguishes_layouts_by_ep_and_adp():
    result = api.recommend(QWEN3_MOE, H100, WORKLOAD, cards=4, tp=4, pp=1, dp=1, top=4, alternatives=False)
    layouts = [(r.plan.ep, r.plan.adp) for r in result.recommendations]
    assert sorted(layouts) == [(1, 1), (1, 4), (4, 1), (4, 4)]


def test_pins_fix_ep_and_adp():
    result = api.recommend(QWEN3_MOE, H100, WORKLOAD, cards=4, ep=4, adp=4, alternatives=False)
    plan = result.recommendations[0].plan
    assert (plan.tensor_parallel_size, plan.ep, plan.adp) == (4, 4, 4)
    listing = api.enumerate_candidates(QWEN3_MOE, H100, WORKLOAD, cards=4, ep=2)
    feasible = listing.candidates[:listing.feasible_count]
    assert feasible and all(c.plan.ep == 2 and c.plan.tensor_parallel_size == 2 for c in feasible)


def test_a_pinned_degree_the_space_rejects_says_why():
    result = api.recommend(QWEN3_MOE, H100, WORKLOAD, cards=4, tp=4, ep=2, alternatives=False)
    assert result.status == "INFEASIBLE"
    assert any("EP 2 with TP 4 not run by gpu" in reason for reason in result.reasons)
    with pytest.raises(InputError, match="--adp"):
        api.recommend(QWEN3_MOE, H100, WORKLOAD, cards=4, adp=0)


def test_plan_json_states_ep_and_adp_for_moe_models_only():
    moe = api.recommend(QWEN3_MOE, H100, WORKLOAD, cards=2, alternatives=False).recommendations[0].plan.to_dict()
    assert moe["expert_parallel_size"] >= 1 and moe["attention_data_parallel_size"] >= 1
    dense = api.recommend(LLAMA_8B, H100, WORKLOAD, cards=2, alternatives=False).recommendations[0].plan.to_dict()
    assert "expert_parallel_size" not in dense and "attention_data_parallel_size" not in dense
    # A hand-made plan states them when they are not 1.
    plan = ParallelPlan(tensor_parallel_size=8, pipeline_parallel_size=1, data_parallel_size=1, batch_size=4,
                        cards_used=8, pes_used=8, expert_parallel_size=8)
    assert plan.to_dict()["expert_parallel_size"] == 8 and "attention_data_parallel_size" not in plan.to_dict()


def test_estimate_takes_ep_and_adp():
    result = api.estimate(QWEN3_MOE, H100, WORKLOAD, tp=4, ep=4, adp=4, space="gpu")
    doc = result.to_dict()
    assert (doc["ep"], doc["adp"]) == (4, 4) and result.feasible
    broken = api.estimate(QWEN3_MOE, H100, WORKLOAD, tp=4, ep=2, space="gpu")
    assert not broken.feasible and any("EP 2 with TP 4" in v for v in broken.violations)
    assert "ep" not in api.estimate(LLAMA_8B, H100, WORKLOAD, tp=2, space="gpu").to_dict()


def test_problem_rows_carry_the_degrees_to_the_cost_model():
    problem = build_problem(model=QWEN3_MOE, hardware=H100, space=load_space("gpu"), workload=WORKLOAD, cards=2)
    c = problem.candidates
    assert set(zip(c.ep[c.tp == 2].tolist(), c.adp[c.tp == 2].tolist())) == {(1, 1), (1, 2), (2, 1), (2, 2)}
    assert len(problem.table.ttft_s) == len(c)


def test_attention_dp_replicates_attention_weights():
    # Under attention DP every GPU holds all attention weights instead of 1/TP of them, so weights per GPU grow.
    plain = api.estimate(QWEN3_MOE, H100, WORKLOAD, tp=4, space="gpu")
    adp = api.estimate(QWEN3_MOE, H100, WORKLOAD, tp=4, adp=4, space="gpu")
    assert adp.memory_per_device_bytes["weights"] > plain.memory_per_device_bytes["weights"]


# ---------------------------------------------------------------------------------------------
# Outputs


def test_report_shows_ep_and_adp_columns_only_when_an_answer_has_them():
    moe = api.recommend(QWEN3_MOE, H100, WORKLOAD, cards=4, tp=4, top=4, alternatives=False)
    header = [line for line in report.recommend_report(moe).splitlines() if line.startswith("#  TP")][0]
    assert header.split()[:6] == ["#", "TP", "PP", "DP", "EP", "ADP"]
    plain = api.recommend(QWEN3_MOE, H100, WORKLOAD, cards=4, ep=1, adp=1, alternatives=False)
    assert " EP " not in report.recommend_report(plain)


#: The engines' real flags for these degrees: vLLM vllm/engine/arg_utils.py (`--enable-expert-parallel`,
#: `--data-parallel-size`, `--tensor-parallel-size`, `--port`); SGLang python/sglang/srt/server_args.py
#: (`--ep-size`, `--enable-dp-attention`, `--dp-size`, `--port`); TensorRT-LLM tensorrt_llm/commands/serve.py
#: (`--ep_size`, `--port`) and llmapi/llm_args.py (`enable_attention_dp`, an options-file key).
MOE_FLAGS = {
    "vllm": ("vllm serve", {"--tensor-parallel-size", "--pipeline-parallel-size", "--data-parallel-size",
                            "--enable-expert-parallel", "--max-num-seqs", "--max-num-batched-tokens",
                            "--max-model-len", "--dtype", "--quantization", "--kv-cache-dtype", "--port"}),
    "sglang": ("python -m sglang.launch_server", {"--model-path", "--tp-size", "--pp-size", "--dp-size",
                                                  "--enable-dp-attention", "--ep-size", "--max-running-requests",
                                                  "--chunked-prefill-size", "--context-length", "--dtype",
                                                  "--quantization", "--kv-cache-dtype", "--port"}),
    "trtllm": ("trtllm-serve", {"--backend", "--tp_size", "--pp_size", "--ep_size", "--max_batch_size",
                                "--max_num_tokens", "--max_seq_len", "--extra_llm_api_options", "--port"}),
}


def moe_plan(tp=8, ep=8, adp=8, dp=1, batch=64) -> ParallelPlan:
    return ParallelPlan(tensor_parallel_size=tp, pipeline_parallel_size=1, data_parallel_size=dp, batch_size=batch,
                        cards_used=tp * dp, pes_used=tp * dp, expert_parallel_size=ep,
                        attention_data_parallel_size=adp)


@pytest.mark.parametrize("fmt", sorted(MOE_FLAGS))
@pytest.mark.parametrize("ep, adp", [(8, 8), (8, 1), (1, 8), (1, 1)])
def test_every_emitted_flag_is_a_real_engine_flag(fmt, ep, adp):
    start, flags = MOE_FLAGS[fmt]
    text = emit(fmt, plan=moe_plan(ep=ep, adp=adp, dp=2), model=QWEN3_MOE, workload=WORKLOAD, space="gpu")
    commands = argv_of(text, start)
    assert len(commands) >= 1
    for argv in commands:
        assert set(option_map(argv)) <= flags


def test_vllm_flags_for_ep_and_attention_dp():
    text = emit("vllm", plan=moe_plan(ep=8, adp=8, dp=2), model=QWEN3_MOE, workload=WORKLOAD, space="gpu")
    commands = argv_of(text, "vllm serve")
    assert len(commands) == 2   # MoE replicas are separate servers: --data-parallel-size is the attention DP
    flags = option_map(commands[0])
    assert "--enable-expert-parallel" in flags
    assert (flags["--tensor-parallel-size"], flags["--data-parallel-size"]) == ("1", "8")
    assert flags["--max-num-seqs"] == "8"   # 64 per replica over 8 attention-DP engines
    assert [option_map(c)["--port"] for c in commands] == ["8000", "8001"]
    assert "CUDA_VISIBLE_DEVICES=8,9,10,11,12,13,14,15" in text
    plain = option_map(argv_of(emit("vllm", plan=moe_plan(ep=1, adp=1), model=QWEN3_MOE, workload=WORKLOAD),
                               "vllm serve")[0])
    assert "--enable-expert-parallel" not in plain and plain["--tensor-parallel-size"] == "8"


def test_sglang_flags_for_ep_and_attention_dp():
    text = emit("sglang", plan=moe_plan(ep=8, adp=8), model=QWEN3_MOE, workload=WORKLOAD, space="gpu")
    flags = option_map(argv_of(text, "python -m sglang.launch_server")[0])
    assert (flags["--tp-size"], flags["--ep-size"], flags["--dp-size"]) == ("8", "8", "8")
    assert "--enable-dp-attention" in flags and flags["--max-running-requests"] == "64"
    ep_only = option_map(argv_of(emit("sglang", plan=moe_plan(ep=8, adp=1, dp=2), model=QWEN3_MOE,
                                      workload=WORKLOAD), "python -m sglang.launch_server")[0])
    assert ep_only["--dp-size"] == "2" and "--enable-dp-attention" not in ep_only


def test_trtllm_flags_for_ep_and_attention_dp():
    text = emit("trtllm", plan=moe_plan(ep=8, adp=8), model=QWEN3_MOE, workload=WORKLOAD, space="gpu")
    flags = option_map(argv_of(text, "trtllm-serve")[0])
    assert flags["--ep_size"] == "8" and flags["--max_batch_size"] == "8"
    assert "enable_attention_dp: true" in text.splitlines()


@pytest.mark.parametrize("fmt, ep, adp, field", [
    ("vllm", 2, 1, "expert_parallel_size"),      # vLLM EP spans all ranks
    ("trtllm", 1, 2, "attention_data_parallel_size"),   # TensorRT-LLM attention DP spans all ranks
    ("sglang", 3, 1, "expert_parallel_size"),    # not a divisor of TP
])
def test_engines_refuse_degrees_they_cannot_run(fmt, ep, adp, field):
    with pytest.raises(InputError, match=field):
        emit(fmt, plan=moe_plan(tp=8, ep=ep, adp=adp), model=QWEN3_MOE, workload=WORKLOAD, space="gpu")


def test_sglang_runs_a_partial_ep():
    flags = option_map(argv_of(emit("sglang", plan=moe_plan(tp=8, ep=2, adp=4), model=QWEN3_MOE,
                                    workload=WORKLOAD), "python -m sglang.launch_server")[0])
    assert (flags["--ep-size"], flags["--dp-size"]) == ("2", "4")


def test_furiosa_emitters_refuse_ep_and_adp():
    plan = ParallelPlan(tensor_parallel_size=16, pipeline_parallel_size=1, data_parallel_size=1, batch_size=8,
                        cards_used=2, pes_used=16, expert_parallel_size=2, attention_data_parallel_size=1)
    with pytest.raises(InputError, match="expert_parallel_size"):
        emit("furiosa", plan=plan, model=QWEN3_MOE, workload=WORKLOAD, space="furiosa-2026.4")


def test_dense_emits_are_unchanged_by_the_moe_fields():
    # Plans of dense models carry no EP/ADP: the commands are the ones the engines always got.
    plan = ParallelPlan(tensor_parallel_size=4, pipeline_parallel_size=1, data_parallel_size=2, batch_size=48,
                        cards_used=8, pes_used=8)
    for fmt, (start, _) in MOE_FLAGS.items():
        text = emit(fmt, plan=plan, model=LLAMA_8B, workload=WORKLOAD, space="gpu")
        for argv in argv_of(text, start):
            assert not {"--enable-expert-parallel", "--ep-size", "--ep_size", "--enable-dp-attention"} & set(argv)
        assert "mixture of experts" not in text
    (vllm,) = argv_of(emit("vllm", plan=plan, model=LLAMA_8B, workload=WORKLOAD), "vllm serve")
    assert option_map(vllm)["--data-parallel-size"] == "2"
    assert shlex.join(vllm)  # one server, as before
