"""`--emit furiosa`: every flag and keyword each release's output uses exists in that release.

Signatures: ../shared/reference/furiosa-llm-signatures.json (names parsed from the furiosa-llm wheels)
and ../shared/reference/furiosa-llm.md section 3 (build_fxb from the native .so; ModelConfig fields),
both read from their copies in tests/data.
"""
from __future__ import annotations

import ast
import json
import re
import shlex

import pytest

from autotune.outputs.emit import FORMATS, emit, furiosa_for, release_for
from autotune.outputs.emit.furiosa_releases import BUILD_FXB_PARAMS, RELEASES, resolve_release
from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan
from autotune.specs.model_loader import load_model
from autotune.specs.workload import Workload
from tests.shared_data import TEST_DATA

LLAMA = load_model("llama-3.1-70b")
MIXTRAL = load_model("mixtral-8x7b-v0.1")
WORKLOAD = Workload(input_len=2000, output_len=500)


def plan(tp: int, pp: int = 1, dp: int = 1, batch: int = 32) -> ParallelPlan:
    cards = max(1, tp * pp * dp // 8)
    return ParallelPlan(tensor_parallel_size=tp, pipeline_parallel_size=pp, data_parallel_size=dp,
                        batch_size=batch, cards_used=cards, pes_used=tp * pp * dp)


#: Plans each release can express (TP rules of reference section 2).
PLANS = {
    "2024.2": [plan(4, 2, 2), plan(8, 4, 1), plan(8, 1, 4), plan(2, 1, 1)],
    "2025.1": [plan(4, 2, 2), plan(8, 1, 1)],
    "2025.2": [plan(4, 1, 2), plan(8, 2, 1)],
    "2025.3": [plan(16, 1, 1), plan(32, 1, 2), plan(4, 2, 2), plan(8, 2, 1)],
    "2026.1": [plan(16, 2, 1), plan(8, 1, 8)],
    "2026.2": [plan(32, 1, 1), plan(4, 1, 2), plan(8, 1, 12)],
    "2026.3": [plan(32, 1, 1), plan(8, 2, 2)],
    "2026.4": [plan(32, 1, 1), plan(16, 2, 1), plan(8, 1, 8)],
}
CASES = [(release, p) for release, plans in PLANS.items() for p in plans]


def signatures() -> dict:
    return json.loads((TEST_DATA / "furiosa-llm-signatures.json").read_text())["releases"]


def reference_text() -> str:
    return (TEST_DATA / "furiosa-llm.md").read_text()


def cli_names(entry: list[list[str]]) -> tuple[set[str], int]:
    """Returns (option flags, number of positional arguments) of a parsed argparse entry."""
    flags = {name for names in entry for name in names if name.startswith("-")}
    positionals = sum(1 for names in entry if not names[0].startswith("-"))
    return flags, positionals


def shell_commands(text: str) -> list[list[str]]:
    """Returns the argv of every command line in the text (comments and Python skipped)."""
    joined = text.replace("\\\n", " ")
    out = []
    for line in joined.splitlines():
        if line.startswith(("furiosa-llm ", "fxb ")):
            out.append(shlex.split(line))
    return out


def python_blocks(text: str) -> list[str]:
    """Returns the Python source of the (b) and (c) sections."""
    builder = text.split("# (b) build from Python\n", 1)[1].split("\n# (c) serve", 1)[0]
    loader = text.split("# (c) or load from Python", 1)[1].split("\n", 1)[1]
    return [builder, loader]


def calls(source: str) -> list[tuple[str, int, list[str]]]:
    """Returns (callee, positional count, keyword names) of every call in the source."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            out.append((ast.unparse(node.func), len(node.args), [k.arg for k in node.keywords]))
    return out


def options(argv: list[str]) -> tuple[list[str], list[str]]:
    """Returns (flags, positional words after the subcommand) of an argv."""
    flags, words, skip = [], [], False
    for token in argv[2:]:
        if skip:
            skip = False
        elif token.startswith("-"):
            flags.append(token)
            skip = token not in ("--no-bundle-binaries",)
        else:
            words.append(token)
    return flags, words


@pytest.mark.parametrize("release,p", CASES)
def test_build_command_flags_exist_in_the_release(release, p):
    sig = signatures()[RELEASES[release].wheel]
    text = emit("furiosa", plan=p, model=LLAMA, workload=WORKLOAD, release=release)
    build = shell_commands(text)[0]
    key = "cli: fxb build" if build[0] == "fxb" else "cli: furiosa-llm build"
    known, positionals = cli_names(sig[key])
    flags, words = options(build)
    assert build[1] == "build"
    assert set(flags) <= known, set(flags) - known
    assert len(words) == positionals
    assert "-tp" in flags and "-pp" in flags


@pytest.mark.parametrize("release,p", CASES)
def test_serve_command_flags_exist_in_the_release(release, p):
    sig = signatures()[RELEASES[release].wheel]
    known, positionals = cli_names(sig["cli: furiosa-llm serve"])
    serves = shell_commands(emit("furiosa", plan=p, model=LLAMA, workload=WORKLOAD, release=release))[1:]
    assert serves
    for argv in serves:
        flags, words = options(argv)
        assert argv[:2] == ["furiosa-llm", "serve"]
        assert set(flags) <= known, set(flags) - known
        assert len(words) == positionals


@pytest.mark.parametrize("release,p", CASES)
def test_python_keywords_exist_in_the_release(release, p):
    sig = signatures()[RELEASES[release].wheel]
    reference = reference_text()
    text = emit("furiosa", plan=p, model=LLAMA, workload=WORKLOAD, release=release)
    seen = set()
    for source in python_blocks(text):
        for callee, _, keywords in calls(source):
            seen.add(callee)
            if callee == "build_fxb":
                assert set(keywords) <= set(BUILD_FXB_PARAMS)
                continue
            if callee == "ModelConfig":
                # ModelConfig's fields are not in the JSON; reference 3.1: 2026.2.1 "ModelConfig adds
                # task="auto", max_model_len=None".
                assert keywords == ["max_model_len"] and 'max_model_len=None' in reference
                continue
            name = {"ArtifactBuilder": "ArtifactBuilder.__init__", "builder.build": "ArtifactBuilder.build",
                    "LLM": "LLM.__init__"}.get(callee, callee)
            params = set(sig[name]["params"]) if "params" in sig.get(name, {}) else None
            assert params is not None, f"{callee} is not in {release}'s signatures"
            assert set(keywords) <= params, set(keywords) - params
    assert seen & {"ArtifactBuilder", "build_fxb"}


def test_build_fxb_names_are_the_references():
    block = reference_text().split("build_fxb(model_path", 1)[1].split("```", 1)[0]
    for name in BUILD_FXB_PARAMS[1:]:
        assert re.search(rf"\b{name}\b", block), name


def settings(release: str, p: ParallelPlan, model=LLAMA, workload=WORKLOAD):
    return furiosa_for(plan=p, model=model, workload=workload, release=release)


def test_2024_2_build_names_devices_model_id_and_dp():
    s = settings("2024.2", plan(4, 2, 2))
    assert s.build.words == ("furiosa-llm", "build", "./llama-3.1-70b-tp4-pp2")
    flags = dict(s.build.options)
    assert flags["--model-id"] == "meta-llama/Llama-3.1-70B"
    assert flags["--devices"] == "npu:0:0-3,npu:0:4-7,npu:1:0-3,npu:1:4-7"
    assert (flags["-tp"], flags["-pp"], flags["-dp"]) == ("4", "2", "2")
    builder = s.builder_calls[0]
    assert builder.kwarg_names()[:4] == ["devices", "tensor_parallel_size", "pipeline_parallel_size",
                                         "data_parallel_size"]
    assert s.serve[0].options[0] == ("--model", "./llama-3.1-70b-tp4-pp2")
    assert s.load_calls[0].callee == "LLM.from_artifacts"


def test_buckets_round_the_prompt_and_context_up_to_128():
    s = settings("2025.1", plan(8, batch=16))
    assert s.buckets.prefill == ((1, 2048),)      # prompt 2000 -> 2048
    assert s.buckets.decode == ((16, 2560),)      # batch 16, 2500 -> 2560
    flags = s.build.argv()
    assert flags[flags.index("-pb") + 1] == "1,2048" and flags[flags.index("-db") + 1] == "16,2560"


def test_2024_2_sizes_the_paged_attention_blocks_for_the_plan():
    s = settings("2024.2", plan(8, batch=16))
    assert s.buckets.paged_attention_num_blocks == 16 * 2560  # block size 1 token


def test_2025_1_builder_drops_devices_keeps_dp_2025_2_drops_dp():
    b251 = settings("2025.1", plan(4, 1, 2)).builder_calls[0].kwarg_names()
    b252 = settings("2025.2", plan(4, 1, 2)).builder_calls[0].kwarg_names()
    assert "devices" not in b251 and "data_parallel_size" in b251
    assert "data_parallel_size" not in b252
    assert settings("2025.1", plan(4)).build.words[2:] == ("meta-llama/Llama-3.1-70B", "./llama-3.1-70b-tp4-pp1")


def test_2025_3_serves_through_a_device_mesh_when_one_replica():
    s = settings("2025.3", plan(16, 2, 1))
    assert s.serve[0].options == (("--device-mesh", "npu:0:0-7,npu:1:0-7|npu:2:0-7,npu:3:0-7"),
                                  ("--max-batch-size", "32"))   # the plan's batch per replica
    multi = settings("2025.3", plan(4, 2, 2))
    assert "--device-mesh" not in multi.serve[0].flags() and "--devices" in multi.serve[0].flags()


def test_2026_1_uses_config_objects():
    builder = settings("2026.1", plan(16)).builder_calls[0]
    nested = {c.callee: c.kwarg_names() for c in builder.nested()}
    assert nested["ParallelConfig"] == ["tensor_parallel_size", "pipeline_parallel_size"]
    assert nested["BucketConfig"] == ["prefill_buckets", "decode_buckets", "max_seq_len_to_capture"]
    assert "tensor_parallel_size" not in builder.kwarg_names()


def test_2026_3_passes_max_model_len_and_routes_other_model_types_to_fxb():
    s = settings("2026.3", plan(32))
    assert dict(s.build.options)["--max-model-len"] == "4096"   # 2500 -> next power of two
    assert "-pb" not in s.build.flags()
    other = settings("2026.3", plan(8, 1, 1), model=MIXTRAL)
    assert other.build.words[0] == "fxb" and other.artifact_path.endswith(".fxb")
    assert "--fxb" in other.serve[0].flags()


def test_2026_4_builds_fxb_and_serves_without_tp():
    s = settings("2026.4", plan(32))
    assert s.build.words == ("fxb", "build", "meta-llama/Llama-3.1-70B", "./llama-3.1-70b-tp32-pp1.fxb")
    assert s.builder_calls[0].callee == "build_fxb"
    assert "-tp" not in s.serve[0].flags()
    assert s.serve[0].words == ("furiosa-llm", "serve", "meta-llama/Llama-3.1-70B")
    assert s.load_calls[0].kwargs[0] == ("fxb", "./llama-3.1-70b-tp32-pp1.fxb")


def test_max_model_len_is_capped_by_the_model():
    qwen = load_model("qwen3-32b")
    s = settings("2026.4", plan(32), model=qwen, workload=Workload(input_len=30000, output_len=3000))
    assert s.buckets.max_model_len == min(65536, qwen.max_position_embeddings)


@pytest.mark.parametrize("release,tp,match", [
    ("2024.2", 16, "furiosa-llm 2024.2: field 'tensor_parallel_size': got 16"),   # brief's example
    ("2025.2", 32, "got 32"),
    ("2026.3", 16, r"\{4, 8, 32\}"),
    ("2026.4", 4, "chips"),
])
def test_plans_a_release_cannot_express_are_input_errors(release, tp, match):
    with pytest.raises(InputError, match=match):
        emit("furiosa", plan=plan(tp), model=LLAMA, workload=WORKLOAD, release=release)


def test_2026_4_needs_kv_heads_divisible_by_the_chips():
    qwen_moe = load_model("qwen3-30b-a3b")
    assert qwen_moe.num_key_value_heads == 4
    with pytest.raises(InputError, match="num_key_value_heads"):
        emit("furiosa", plan=plan(64), model=qwen_moe, workload=WORKLOAD, release="2026.4")


def test_context_beyond_the_model_is_an_input_error():
    with pytest.raises(InputError, match="max_position_embeddings"):
        emit("furiosa", plan=plan(8), model=LLAMA, workload=Workload(input_len=131072, output_len=1),
             release="2025.3")


@pytest.mark.parametrize("text,expected", [("2025.3", "2025.3"), ("2025.3.4", "2025.3"),
                                           ("furiosa-2024.2", "2024.2"), ("2026.4.0", "2026.4")])
def test_release_names_resolve(text, expected):
    assert resolve_release(text).release == expected


def test_unknown_release_is_an_input_error_listing_the_known_ones():
    with pytest.raises(InputError, match="--release: field 'release': got '2023.1'; expected one of 2024.2"):
        resolve_release("2023.1")


def test_release_comes_from_the_space_else_the_newest_with_a_note():
    from autotune.specs.space import load_space
    assert release_for(space=load_space("furiosa-2025.3"))[0].release == "2025.3"
    chosen, note = release_for()
    assert chosen.release == "2026.4" and "--release" in note
    assert "assumed" in emit("furiosa", plan=plan(32), model=LLAMA, workload=WORKLOAD)


def test_every_release_and_format_is_deterministic():
    for release in RELEASES:
        p = PLANS[release][0]
        first = emit("furiosa", plan=p, model=LLAMA, workload=WORKLOAD, release=release)
        assert first == emit("furiosa", plan=p, model=LLAMA, workload=WORKLOAD, release=release)
        assert f"Furiosa LLM {release} (furiosa-llm {RELEASES[release].wheel})" in first
    assert FORMATS == ("furiosa", "vllm", "sglang", "trtllm", "yaml", "json")
