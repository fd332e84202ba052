"""Loading a ModelSpec from a config.json path, a folder holding one, or a preset name.

Presets are Hugging Face `config.json` files shipped in `autotune/presets/models/`, found
by short name (`llama-3.1-70b`), by Hugging Face id (`meta-llama/Llama-3.1-70B`) or by the
id's last part (`Llama-3.1-70B`), case-insensitively. `index.csv` maps short names to ids;
`SOURCES.csv` says where each file came from.
"""
from __future__ import annotations

import csv
import difflib
import io
import json
import os
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from autotune.errors import InputError
from autotune.specs.architectures import model_spec_from_config
from autotune.specs.fields import path_exists, path_is_dir, read_text
from autotune.specs.hf_cache import (
    HF_ID,
    HubId,
    HubLookupError,
    cached_config,
    cached_refs,
    cached_snapshots,
    download_config,
    hub_settings,
    parse_hub_id,
    repo_id_of_cache_path,
    snapshot_of_repo_folder,
)
from autotune.specs.model import ModelSpec

CONFIG_FILE = "config.json"
#: How many presets an ambiguous prefix lists.
_MAX_CANDIDATES = 8


@dataclass(frozen=True, kw_only=True)
class PresetInfo:
    """One shipped model preset: its short name, Hugging Face id, type and size."""

    name: str
    hf_id: str
    model_type: str
    total_params: int
    active_params: int


def load_model(name_or_path: str) -> ModelSpec:
    """Returns the ModelSpec a `--model` value names.

    Tried in order: an existing path (a config.json, a folder holding one, a Hugging Face cache's
    `models--ORG--NAME` folder); a preset (short name, Hugging Face id or the id's last part, then a
    unique prefix of a short name); for `ORG/NAME[@REVISION]`, the local Hugging Face cache, then,
    unless HF_HUB_OFFLINE is set, a download of that repository's config.json alone.
    """
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise InputError(source="model", value=name_or_path,
                         expected="a preset name, a Hugging Face id, a config.json path or a folder holding one")
    path = Path(name_or_path).expanduser()
    if path_exists(path):
        return _load_path(path, given=name_or_path)
    if _looks_like_path(name_or_path):
        raise InputError(source=name_or_path, has_value=False,
                         expected="an existing config.json file or a folder holding one")
    preset = _find_preset(name_or_path)
    if preset is not None:
        return _load_preset(preset)
    hub_id = parse_hub_id(name_or_path)
    if hub_id is not None:
        return _load_hub_id(hub_id)
    preset = _preset_by_prefix(name_or_path)
    if preset is not None:
        return _load_preset(preset)
    raise _unknown_preset(name_or_path)


def load_model_file(path: Path, *, given: str | None = None) -> ModelSpec:
    """Returns the ModelSpec of a config.json file, or of the config.json inside a folder.

    `given` is the text the user typed (default: `path`); it names the model, and its folder is the
    checkpoint the emitted commands load.
    """
    text = str(path) if given is None else os.path.expanduser(given.strip())
    folder: str | None
    if path_is_dir(path):
        inner = path / CONFIG_FILE
        if not path_exists(inner):
            raise InputError(source=str(path), has_value=False,
                             expected=f"a folder holding a {CONFIG_FILE} (none found)")
        path = inner
        folder = text.rstrip("/\\") or text
    elif path.name == CONFIG_FILE:
        folder = os.path.dirname(text) or "."
    else:
        folder = None  # a JSON under another name is no checkpoint folder an engine can load
    data = _read_config(path)
    spec = model_spec_from_config(data, source=str(path))
    hf_id = _named_hf_id(data)
    if folder is None and hf_id is None:
        folder = os.path.dirname(text) or "."
    return replace(spec, name=text, hf_id=hf_id, checkpoint=folder)


def list_model_presets() -> list[PresetInfo]:
    """Returns every shipped model preset, sorted by short name."""
    infos = []
    for name in sorted(_index()):
        spec = _load_preset(name)
        infos.append(PresetInfo(name=name, hf_id=spec.hf_id or "", model_type=spec.model_type,
                                total_params=spec.total_params, active_params=spec.active_params))
    return infos


def model_to_dict(spec: ModelSpec, *, context_len: int = 2048) -> dict[str, Any]:
    """Returns the facts of `spec` as JSON-ready data (counts in parameters, sizes in bytes)."""
    return spec.to_dict(context_len=context_len)


# ---------------------------------------------------------------------------------------


def _read_config(path: Path) -> dict[str, Any]:
    """Returns the JSON object in `path`; NaN and Infinity parse, so the field check names them."""
    text = read_text(path)
    try:
        data = json.loads(text, parse_constant=float)
    except json.JSONDecodeError as exc:
        raise InputError(source=str(path), has_value=False,
                         expected=f"valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(source=str(path), has_value=False, expected=f"valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(source=str(path), value=type(data).__name__, expected="a JSON object at the top level")
    return data


def _named_hf_id(data: dict[str, Any]) -> str | None:
    """Returns the Hugging Face id a config names in `_name_or_path` (`org/name`), or None.

    `save_pretrained` writes the id the model was loaded from there; a local path (absolute,
    relative with ./ or several slashes) is no id and is ignored.
    """
    value = data.get("_name_or_path")
    if isinstance(value, str) and HF_ID.fullmatch(value.strip()):
        return value.strip()
    return None


def _looks_like_path(text: str) -> bool:
    if parse_hub_id(text) is not None:
        return False  # ORG/NAME@refs/pr/1 has slashes in its revision
    return text.endswith(".json") or text.startswith((".", "~")) or "\\" in text or text.count("/") > 1


def _load_path(path: Path, *, given: str) -> ModelSpec:
    """Returns the ModelSpec of an existing path; a cache's `models--ORG--NAME` folder or snapshot names its id."""
    in_cache = repo_id_of_cache_path(path)
    if in_cache is None:
        return load_model_file(path, given=given)
    repo_id, repo_folder = in_cache
    if path == repo_folder:
        snapshot = snapshot_of_repo_folder(repo_folder)
        if snapshot is None:
            commits = cached_snapshots(repo_folder)
            listed = f"snapshots {', '.join(commits)} and no refs/main" if commits else "no snapshot"
            raise InputError(source=given, has_value=False,
                             expected=f"a Hugging Face cache folder with a refs/main or one snapshot (found {listed}); "
                                      "pass a snapshot folder")
        spec = load_model_file(snapshot, given=str(snapshot))
    else:
        spec = load_model_file(path, given=given)
    return replace(spec, name=given.strip(), hf_id=spec.hf_id or repo_id)


def _load_hub_id(hub_id: HubId) -> ModelSpec:
    """Returns the ModelSpec of `ORG/NAME[@REVISION]` from the Hugging Face cache, else downloaded if allowed."""
    settings = hub_settings()
    try:
        path = cached_config(hub_id, settings)
    except HubLookupError as exc:
        raise _hub_error(hub_id, f"and the Hugging Face cache cannot be read: {exc.reason}") from None
    refs = cached_refs(hub_id, settings)
    # A repository cached at other revisions: say which, so a typo in @REVISION is plain.
    not_cached = f"not in the Hugging Face cache at {settings.cache_dir}" + (
        f" (cached revisions: {', '.join(refs)})" if refs and hub_id.revision else "")
    if path is None and not settings.offline:
        try:
            path = download_config(hub_id, settings)
        except HubLookupError as exc:
            raise _hub_error(hub_id, f"{not_cached}, and the download of {CONFIG_FILE} failed: {exc.reason}") from None
    if path is None:
        raise _hub_error(hub_id, f"{not_cached}, and offline "
                                 f"({settings.offline_variable}=1): set {settings.offline_variable}=0 "
                                 "or pass a folder holding its config.json")
    spec = load_model_file(path, given=str(path))
    # Engines load the id from the same cache; the snapshot folder may hold only config.json.
    return replace(spec, name=hub_id.text, hf_id=hub_id.repo_id, checkpoint=None)


class ModelNotFoundError(InputError):
    """A Hub id no preset, cache entry or download gives: the message says what was tried, in one line."""

    def __init__(self, *, model: str, tried: str) -> None:
        super().__init__(source=f"model '{model}'", has_value=False, expected=tried)
        self.args = (f"model '{model}' is {tried}",)


def _hub_error(hub_id: HubId, tried: str) -> ModelNotFoundError:
    """Returns the error for a Hub id found nowhere, suggesting a close preset only then."""
    return ModelNotFoundError(model=hub_id.text, tried=f"not a preset, {tried}{_did_you_mean(hub_id.repo_id)}")


def _presets_dir():
    return resources.files("autotune.presets").joinpath("models")


@lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    """Returns short preset name -> Hugging Face id, from `index.csv`."""
    text = _presets_dir().joinpath("index.csv").read_text(encoding="utf-8")
    return {row["preset"]: row["hf_id"] for row in csv.DictReader(io.StringIO(text))}


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    """Returns lowercase short name, HF id and HF id's last part -> short preset name."""
    table: dict[str, str] = {}
    for name, hf_id in _index().items():
        for key in (name, hf_id, hf_id.rsplit("/", 1)[-1]):
            table.setdefault(key.lower(), name)
    return table


def _find_preset(text: str) -> str | None:
    return _lookup().get(text.strip().lower())


def _preset_by_prefix(text: str) -> str | None:
    """Returns the one preset whose short name or id's last part starts with `text`, or None when none does.

    An ambiguous prefix is an error listing the candidates. Ids with an organisation are never
    completed: `ORG/NAME` is a repository of its own (a fine-tune loads from its own config).
    """
    wanted = text.strip().lower()
    if "/" in wanted:
        return None
    matches = sorted({name for key, name in _lookup().items() if "/" not in key and key.startswith(wanted)})
    if len(matches) > 1:
        shown = ", ".join(matches[:_MAX_CANDIDATES]) + (", ..." if len(matches) > _MAX_CANDIDATES else "")
        raise InputError(source=f"model '{text.strip()}'", has_value=False,
                         expected=f"a unique preset name; the prefix matches {len(matches)} presets: {shown}")
    return matches[0] if matches else None


def _did_you_mean(text: str) -> str:
    """Returns " (did you mean a, b?)" naming presets whose name or id is close to `text`, or ""."""
    table = _lookup()
    close = difflib.get_close_matches(text.strip().lower(), list(table), n=8, cutoff=0.6)
    suggestions = list(dict.fromkeys(table[key] for key in close))[:3]
    return f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""


def _unknown_preset(text: str) -> InputError:
    """Returns the error for an unknown model, suggesting presets whose name or id is close."""
    return InputError(source=f"model '{text}'", has_value=False,
                      expected="a model preset (short name or Hugging Face id ORG/NAME), a path to a config.json "
                               f"or a folder holding one{_did_you_mean(text)}; known presets: "
                               + ", ".join(sorted(_index())))


@lru_cache(maxsize=None)
def _load_preset(name: str) -> ModelSpec:
    resource = _presets_dir().joinpath(f"{name}.json")
    source = f"autotune/presets/models/{name}.json"
    text = resource.read_text(encoding="utf-8")
    data = json.loads(text)
    spec = model_spec_from_config(data, source=source)
    return replace(spec, name=name, hf_id=_index()[name])

