"""`--model ORG/NAME[@REVISION]`: presets, the Hugging Face cache, the config.json download, and their errors.

Every test builds its own cache under a temporary HF_HOME; the download function is replaced,
so nothing here touches the network (tests/conftest.py also sets HF_HUB_OFFLINE=1 by default).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import huggingface_hub
import pytest
from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

from autotune.errors import InputError
from autotune.specs.hf_cache import hub_settings, parse_hub_id
from autotune.specs.model_loader import load_model
from tests.unit.hf_cache_builder import COMMIT_A, COMMIT_B, add_to_cache, preset_config

# Exact totals of the shipped configs (tests/golden/test_param_counts.py, shared param_counts.csv).
LLAMA_31_8B_TOTAL = 8_030_261_248
QWEN25_7B_TOTAL = 7_615_616_512
FINE_TUNE = "acme/Llama-3.1-8B-support-chat"  # no preset: a fine-tune of Llama-3.1-8B


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Returns an empty hub cache folder that HF_HOME points at, offline."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "hf" / "hub"
    folder.mkdir(parents=True)
    return folder


def _no_download(*args: object, **kwargs: object) -> None:
    raise AssertionError(f"hf_hub_download called offline: {args} {kwargs}")


def _error(cls: type[Exception], message: str) -> Exception:
    """Returns a huggingface_hub HTTP error without building an HTTP response (its __init__ wants one)."""
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    return exc


# --- the environment, read as huggingface_hub reads it --------------------------------------------


def test_settings_follow_hf_home_hf_hub_cache_and_offline() -> None:
    assert hub_settings({"HF_HOME": "/h"}).cache_dir == "/h/hub"
    assert hub_settings({"HF_HOME": "/h", "HF_HUB_CACHE": "/c"}).cache_dir == "/c"
    assert hub_settings({"XDG_CACHE_HOME": "/x"}).cache_dir == "/x/huggingface/hub"
    assert hub_settings({}).cache_dir.endswith("/.cache/huggingface/hub")
    assert hub_settings({}).offline is False
    assert hub_settings({"HF_HUB_OFFLINE": "0"}).offline is False
    for value in ("1", "true", "YES", "on"):
        assert hub_settings({"HF_HUB_OFFLINE": value}).offline is True
    legacy = hub_settings({"TRANSFORMERS_OFFLINE": "1"})
    assert legacy.offline and legacy.offline_variable == "TRANSFORMERS_OFFLINE"
    assert hub_settings({"HF_TOKEN": "hf_x"}).token == "hf_x"
    assert hub_settings({"HF_TOKEN": ""}).token is None


@pytest.mark.parametrize(("text", "repo", "revision"), [
    ("Qwen/Qwen2.5-32B-Instruct", "Qwen/Qwen2.5-32B-Instruct", None),
    ("Qwen/Qwen2.5-32B-Instruct@v1.0", "Qwen/Qwen2.5-32B-Instruct", "v1.0"),
    ("org/name@refs/pr/1", "org/name", "refs/pr/1"),
    (f"org/name@{COMMIT_A}", "org/name", COMMIT_A),
])
def test_hub_ids_parse_with_revision(text: str, repo: str, revision: str | None) -> None:
    hub_id = parse_hub_id(text)
    assert hub_id is not None and (hub_id.repo_id, hub_id.revision) == (repo, revision)
    assert hub_id.text == text


@pytest.mark.parametrize("text", ["llama-3.1-8b", "a/b/c", "org--x/name", "org/na..me", "org/name@", "/abs", "./x/y"])
def test_non_ids_do_not_parse(text: str) -> None:
    assert parse_hub_id(text) is None


# --- the cache -----------------------------------------------------------------------------------


def test_cached_fine_tune_loads_from_its_own_config(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _no_download)
    add_to_cache(hub, FINE_TUNE, preset_config("llama-3.1-8b"))
    spec = load_model(FINE_TUNE)
    assert spec.total_params == LLAMA_31_8B_TOTAL
    assert (spec.name, spec.hf_id, spec.checkpoint) == (FINE_TUNE, FINE_TUNE, None)
    assert spec.serving_id == FINE_TUNE  # engines load the id from the same cache


def test_hf_hub_cache_overrides_hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    add_to_cache(tmp_path / "elsewhere", FINE_TUNE, preset_config("llama-3.1-8b"))
    assert load_model(FINE_TUNE).total_params == LLAMA_31_8B_TOTAL


def test_revision_by_tag_and_by_commit(hub: Path) -> None:
    add_to_cache(hub, FINE_TUNE, preset_config("llama-3.1-8b"), commit=COMMIT_A, refs=("main",))
    add_to_cache(hub, FINE_TUNE, preset_config("qwen2.5-7b"), commit=COMMIT_B, refs=("v2",))
    assert load_model(FINE_TUNE).total_params == LLAMA_31_8B_TOTAL                    # refs/main
    assert load_model(f"{FINE_TUNE}@v2").total_params == QWEN25_7B_TOTAL              # refs/v2
    assert load_model(f"{FINE_TUNE}@{COMMIT_B}").total_params == QWEN25_7B_TOTAL      # snapshots/<commit>
    assert load_model(f"{FINE_TUNE}@v2").name == f"{FINE_TUNE}@v2"


def test_uncached_revision_names_the_cached_ones(hub: Path) -> None:
    add_to_cache(hub, FINE_TUNE, preset_config("llama-3.1-8b"), refs=("main", "v2"))
    with pytest.raises(InputError, match=r"not in the Hugging Face cache at .* \(cached revisions: main, v2\)"):
        load_model(f"{FINE_TUNE}@v3")


def test_preset_wins_over_the_cache(hub: Path) -> None:
    # A cached meta-llama/Llama-3.1-8B holding another config is not read: the preset comes first.
    add_to_cache(hub, "meta-llama/Llama-3.1-8B", preset_config("qwen2.5-7b"))
    spec = load_model("meta-llama/Llama-3.1-8B")
    assert (spec.name, spec.total_params) == ("llama-3.1-8b", LLAMA_31_8B_TOTAL)


# --- offline and not cached ----------------------------------------------------------------------


def test_offline_and_not_cached_is_one_line_saying_what_was_tried(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _no_download)
    with pytest.raises(InputError) as info:
        load_model("Qwen/Qwen2.5-32B-Instruct")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"model 'Qwen/Qwen2.5-32B-Instruct' is not a preset, not in the Hugging Face "
                              f"cache at {hub}, and offline (HF_HUB_OFFLINE=1): set HF_HUB_OFFLINE=0 or pass a folder")


def test_did_you_mean_only_when_nothing_else_works(hub: Path) -> None:
    with pytest.raises(InputError, match=r"did you mean [^)]*llama-3\.1-70b"):
        load_model("meta-llama/Llama-3.1-70")
    add_to_cache(hub, "meta-llama/Llama-3.1-70", preset_config("llama-3.1-8b"))
    assert load_model("meta-llama/Llama-3.1-70").total_params == LLAMA_31_8B_TOTAL


# --- online: config.json alone is downloaded -----------------------------------------------------


def test_online_downloads_config_json_only_into_the_env_cache(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    calls: list[dict] = []

    def fake_download(repo_id: str, **kwargs: object) -> str:
        calls.append({"repo_id": repo_id, **kwargs})
        return str(add_to_cache(Path(str(kwargs["cache_dir"])), repo_id, preset_config("qwen2.5-7b")) / "config.json")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    spec = load_model("Qwen/Qwen2.5-7B-Instruct@v1")
    assert spec.total_params == QWEN25_7B_TOTAL
    assert len(calls) == 1
    call = calls[0]
    assert (call["repo_id"], call["filename"], call["revision"]) == ("Qwen/Qwen2.5-7B-Instruct", "config.json", "v1")
    assert call["cache_dir"] == str(hub)
    assert call["token"] == "hf_test_token"
    assert call["local_files_only"] is False


def test_online_but_cached_does_not_download(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", _no_download)
    add_to_cache(hub, FINE_TUNE, preset_config("llama-3.1-8b"))
    assert load_model(FINE_TUNE).total_params == LLAMA_31_8B_TOTAL


@pytest.mark.parametrize(("error", "phrase"), [
    (_error(GatedRepoError, "403 gated"), r"a gated repository on the Hub \(set HF_TOKEN"),
    (_error(RepositoryNotFoundError, "404"), "no such repository on the Hub; for a private repository set HF_TOKEN"),
    (LocalEntryNotFoundError("cannot reach"), r"the Hub could not be reached \(network error\)"),
    (ConnectionError("Name or service not known\nsecond line"), "the download failed .*Name or service not known"),
])
def test_download_failures_are_one_line(hub: Path, monkeypatch: pytest.MonkeyPatch, error: Exception,
                                        phrase: str) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")

    def failing(*args: object, **kwargs: object) -> str:
        raise error

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", failing)
    with pytest.raises(InputError) as info:
        load_model("meta-llama/Llama-3.3-8B-Instruct")
    message = str(info.value)
    assert "\n" not in message
    assert f"not in the Hugging Face cache at {hub}, and the download of config.json failed: " in message
    assert re.search(phrase, message), message


# --- cache folders as paths ----------------------------------------------------------------------


def test_repo_folder_and_snapshot_folder_are_paths(hub: Path) -> None:
    snapshot = add_to_cache(hub, FINE_TUNE, preset_config("llama-3.1-8b"))
    repo_folder = snapshot.parent.parent
    by_repo = load_model(str(repo_folder))
    by_snapshot = load_model(str(snapshot))
    assert by_repo.total_params == by_snapshot.total_params == LLAMA_31_8B_TOTAL
    assert by_repo.hf_id == by_snapshot.hf_id == FINE_TUNE
    assert by_repo.checkpoint == str(snapshot)  # the folder engines load
    assert by_snapshot.name == str(snapshot)


def test_repo_folder_without_refs_main_takes_its_only_snapshot(hub: Path) -> None:
    snapshot = add_to_cache(hub, FINE_TUNE, preset_config("qwen2.5-7b"), refs=())
    assert load_model(str(snapshot.parent.parent)).total_params == QWEN25_7B_TOTAL


def test_repo_folder_with_several_snapshots_and_no_main_is_an_error(hub: Path) -> None:
    add_to_cache(hub, FINE_TUNE, preset_config("qwen2.5-7b"), commit=COMMIT_A, refs=())
    snapshot = add_to_cache(hub, FINE_TUNE, preset_config("llama-3.1-8b"), commit=COMMIT_B, refs=())
    with pytest.raises(InputError, match=f"found snapshots {COMMIT_A}, {COMMIT_B} and no refs/main"):
        load_model(str(snapshot.parent.parent))


# --- preset prefixes -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["mixtral-8x7b", "MIXTRAL-8X7B", "Mixtral-8x7B-v0"])
def test_unique_prefix_names_the_preset(text: str) -> None:
    assert load_model(text).name == "mixtral-8x7b-v0.1"


def test_ambiguous_prefix_lists_the_candidates() -> None:
    with pytest.raises(InputError, match=r"the prefix matches 2 presets: qwen2\.5-72b, qwen2\.5-7b$"):
        load_model("qwen2.5-7")


def test_ids_with_an_organisation_are_never_completed(hub: Path) -> None:
    # mistralai/Mixtral-8x7B is no preset id: it must not silently become mixtral-8x7b-v0.1.
    with pytest.raises(InputError, match="is not a preset, not in the Hugging Face cache"):
        load_model("mistralai/Mixtral-8x7B")


def test_config_json_read_from_the_cache_is_validated(hub: Path) -> None:
    snapshot = add_to_cache(hub, FINE_TUNE, json.dumps({"model_type": "llama"}))
    with pytest.raises(InputError, match=f"{snapshot.name}/config.json: field 'num_hidden_layers'"):
        load_model(FINE_TUNE)


def test_the_api_resolves_ids_the_same_way(hub: Path) -> None:
    import autotune

    add_to_cache(hub, FINE_TUNE, preset_config("llama-3.1-8b"))
    assert autotune.load_model(FINE_TUNE).total_params == LLAMA_31_8B_TOTAL


def test_without_huggingface_hub_the_error_says_how_to_install_it(hub: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # `import huggingface_hub` raises ImportError
    with pytest.raises(InputError, match=r"is not a preset, and the Hugging Face cache cannot be read: "
                                         r"huggingface_hub is not installed \(pip install huggingface_hub\)"):
        load_model(FINE_TUNE)
    assert load_model("llama-3.1-8b").total_params == LLAMA_31_8B_TOTAL  # presets need no huggingface_hub
