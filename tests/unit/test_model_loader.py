"""load_model: presets by name or id, config.json paths and folders, and every kind of bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from autotune.errors import InputError
from autotune.specs.architectures import SUPPORTED_MODEL_TYPES
from autotune.specs.model_loader import list_model_presets, load_model, model_to_dict

LLAMA_8B = {
    "model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
    "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
    "max_position_embeddings": 131072, "tie_word_embeddings": False,
}


def _write(tmp_path: Path, data: object, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


# --- presets ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["llama-3.1-70b", "LLAMA-3.1-70B", "meta-llama/Llama-3.1-70B",
                                  "META-LLAMA/llama-3.1-70b", "Llama-3.1-70B", " llama-3.1-70b "])
def test_preset_found_by_short_name_hf_id_or_basename(name: str) -> None:
    spec = load_model(name)
    assert spec.name == "llama-3.1-70b"
    assert spec.hf_id == "meta-llama/Llama-3.1-70B"
    assert spec.total_params == 70_553_706_496


def test_presets_cover_the_shared_models_and_falcon_180b() -> None:
    infos = list_model_presets()
    names = [info.name for info in infos]
    assert names == sorted(names)
    assert len(names) >= 18
    assert "falcon-180b" in names
    by_name = {info.name: info for info in infos}
    assert by_name["falcon-180b"].hf_id == "tiiuae/falcon-180B"
    assert by_name["mixtral-8x7b-v0.1"].active_params < by_name["mixtral-8x7b-v0.1"].total_params


def test_every_supported_family_has_a_preset() -> None:
    types = {info.model_type for info in list_model_presets()}
    for family in ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma",
                   "gemma2", "phi3", "deepseek_v2", "deepseek_v3", "gptj", "gpt_neox", "falcon", "opt"):
        assert family in types


def test_unknown_preset_suggests_close_names() -> None:
    with pytest.raises(InputError, match=r"did you mean llama-3\.1-70b"):
        load_model("lama-3.1-70b")


def test_unknown_preset_without_close_match_lists_presets() -> None:
    with pytest.raises(InputError, match="known presets: .*qwen3-32b"):
        load_model("zzzz")


# --- paths ----------------------------------------------------------------------------------


def test_config_file_and_folder_load_the_same(tmp_path: Path) -> None:
    path = _write(tmp_path, LLAMA_8B)
    by_file = load_model(str(path))
    by_folder = load_model(str(tmp_path))
    assert by_file.total_params == by_folder.total_params == 8_030_261_248
    assert by_file.name == str(path)
    assert by_file.hf_id is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected an existing config.json"):
        load_model(str(tmp_path / "nope" / "config.json"))


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"a folder holding a config\.json \(none found\)"):
        load_model(str(tmp_path))


def test_directory_where_config_file_expected(tmp_path: Path) -> None:
    (tmp_path / "config.json").mkdir()
    with pytest.raises(InputError, match="a file, not a directory"):
        load_model(str(tmp_path))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("  \n")
    with pytest.raises(InputError, match="non-empty file"):
        load_model(str(path))


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"model_type": "llama",')
    with pytest.raises(InputError, match="valid JSON"):
        load_model(str(path))


def test_json_list(tmp_path: Path) -> None:
    path = _write(tmp_path, [LLAMA_8B])
    with pytest.raises(InputError, match="got 'list'; expected a JSON object"):
        load_model(str(path))


def test_binary_junk(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    with pytest.raises(InputError, match="binary"):
        load_model(str(path))


def test_non_utf8_junk(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"\xff\xfe\xfa garbage")
    with pytest.raises(InputError, match="binary"):
        load_model(str(path))


# --- fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size",
                                   "intermediate_size"])
def test_missing_required_field_is_named(tmp_path: Path, field: str) -> None:
    data = {k: v for k, v in LLAMA_8B.items() if k != field}
    path = _write(tmp_path, data)
    with pytest.raises(InputError, match=f"field '{field}'; expected a required integer"):
        load_model(str(path))


@pytest.mark.parametrize(("value", "shown"), [
    ("eighty", "'eighty'"), (0, "0"), (-4, "-4"), (True, "True"), (12.5, "12.5"),
    (10**9, "1000000000"), ([32], r"\[32\]"),
])
def test_bad_layer_count_is_named_with_value(tmp_path: Path, value: object, shown: str) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "num_hidden_layers": value})
    with pytest.raises(InputError, match=rf"field 'num_hidden_layers': got {shown}; expected an integer in"):
        load_model(str(path))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_named(tmp_path: Path, constant: str) -> None:
    path = tmp_path / "config.json"
    text = json.dumps(LLAMA_8B).replace('"hidden_size": 4096', f'"hidden_size": {constant}')
    path.write_text(text)
    with pytest.raises(InputError, match="field 'hidden_size': got .*(nan|inf)"):
        load_model(str(path))


def test_absurd_size_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "vocab_size": 10**12})
    with pytest.raises(InputError, match="field 'vocab_size'"):
        load_model(str(path))


def test_absurd_total_is_rejected(tmp_path: Path) -> None:
    # Every field within its own bound, the product far beyond any real model.
    data = {**LLAMA_8B, "hidden_size": 1 << 20, "intermediate_size": 1 << 22, "num_hidden_layers": 4096,
            "num_attention_heads": 1024, "num_key_value_heads": 1024}
    path = _write(tmp_path, data)
    with pytest.raises(InputError, match="at most 1e14 parameters"):
        load_model(str(path))


def test_heads_not_divisible_by_kv_heads(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "num_key_value_heads": 7})
    with pytest.raises(InputError, match=r"field 'num_key_value_heads': got 7; expected a divisor of "
                                         r"num_attention_heads \(32\)"):
        load_model(str(path))


def test_more_kv_heads_than_heads(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "num_key_value_heads": 64})
    with pytest.raises(InputError, match="num_key_value_heads"):
        load_model(str(path))


def test_hidden_not_divisible_by_heads_without_head_dim(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "hidden_size": 4100, "num_key_value_heads": 8})
    with pytest.raises(InputError, match=r"field 'num_attention_heads'.*divisor of hidden_size \(4100\)"):
        load_model(str(path))


def test_unknown_model_type_lists_supported(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "model_type": "llama9"})
    with pytest.raises(InputError, match="field 'model_type': got 'llama9'; expected one of the supported "
                                         "model types: .*deepseek_v3.*qwen3_moe"):
        load_model(str(path))


def test_missing_model_type(tmp_path: Path) -> None:
    data = {k: v for k, v in LLAMA_8B.items() if k != "model_type"}
    path = _write(tmp_path, data)
    with pytest.raises(InputError, match="field 'model_type'; expected one of the supported"):
        load_model(str(path))


def test_model_type_not_a_string(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "model_type": 7})
    with pytest.raises(InputError, match="field 'model_type': got 7"):
        load_model(str(path))


def test_bool_field_with_wrong_type(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "tie_word_embeddings": "no"})
    with pytest.raises(InputError, match="field 'tie_word_embeddings': got 'no'; expected true or false"):
        load_model(str(path))


def test_top_k_above_experts(tmp_path: Path) -> None:
    data = {**LLAMA_8B, "model_type": "mixtral", "num_local_experts": 8, "num_experts_per_tok": 9}
    path = _write(tmp_path, data)
    with pytest.raises(InputError, match=r"field 'num_experts_per_tok': got 9; expected at most the number "
                                         r"of experts \(8\)"):
        load_model(str(path))


def test_error_message_is_one_line(tmp_path: Path) -> None:
    path = _write(tmp_path, {**LLAMA_8B, "hidden_size": "big\nvery big"})
    with pytest.raises(InputError) as info:
        load_model(str(path))
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_supported_types_include_the_issue_list() -> None:
    for family in ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2",
                   "phi3", "deepseek_v2", "deepseek_v3", "gptj", "gpt_neox", "falcon", "opt"):
        assert family in SUPPORTED_MODEL_TYPES


def test_model_to_dict_has_the_contract_keys() -> None:
    facts = model_to_dict(load_model("llama-3.1-70b"))
    for key in ("name", "model_type", "total_params", "active_params", "num_layers", "hidden_size",
                "num_attention_heads", "num_key_value_heads", "head_dim", "kv_cache_bytes_per_token",
                "weight_bytes"):
        assert key in facts
    assert facts["kv_cache_bytes_per_token"] == 80 * 2 * 8 * 128 * 2
    assert facts["weight_bytes"] == {"bf16": 141_107_412_992, "fp16": 141_107_412_992, "fp8": 70_553_706_496,
                                     "int8": 70_553_706_496, "int4": 35_276_853_248, "fp4": 35_276_853_248}
    json.dumps(facts)  # JSON-ready


def test_unknown_hf_id_suggests_by_id() -> None:
    with pytest.raises(InputError, match=r"did you mean [^)]*llama-3\.1-70b"):
        load_model("meta-llama/Llama-3.1-70")
