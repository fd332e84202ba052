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
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from autotune.errors import InputError
from autotune.specs.architectures import model_spec_from_config
from autotune.specs.fields import path_exists, path_is_dir, read_text
from autotune.specs.model import ModelSpec

CONFIG_FILE = "config.json"
#: A Hugging Face repository id: `org/name`, letters, digits, '-', '_', '.' (huggingface_hub validate_repo_id).
_HF_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


@dataclass(frozen=True, kw_only=True)
class PresetInfo:
    """One shipped model preset: its short name, Hugging Face id, type and size."""

    name: str
    hf_id: str
    model_type: str
    total_params: int
    active_params: int


def load_model(name_or_path: str) -> ModelSpec:
    """Returns the ModelSpec of a config.json path, a folder holding one, or a preset name."""
    if not isinstance(name_or_path, str) or not name_or_path.strip():
        raise InputError(source="model", value=name_or_path,
                         expected="a preset name, a config.json path or a folder holding one")
    path = Path(name_or_path).expanduser()
    if path_exists(path):
        return load_model_file(path, given=name_or_path)
    preset = _find_preset(name_or_path)
    if preset is not None:
        return _load_preset(preset)
    if _looks_like_path(name_or_path):
        raise InputError(source=name_or_path, has_value=False,
                         expected="an existing config.json file or a folder holding one")
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
    if isinstance(value, str) and _HF_ID.fullmatch(value.strip()):
        return value.strip()
    return None


def _looks_like_path(text: str) -> bool:
    return text.endswith(".json") or text.startswith((".", "~")) or "\\" in text or text.count("/") > 1


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


def _unknown_preset(text: str) -> InputError:
    """Returns the error for an unknown model, suggesting presets whose name or id is close."""
    table = _lookup()
    close = difflib.get_close_matches(text.strip().lower(), list(table), n=8, cutoff=0.6)
    suggestions = list(dict.fromkeys(table[key] for key in close))[:3]
    hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
    return InputError(source=f"model '{text}'", has_value=False,
                      expected=f"a model preset (short name or Hugging Face id) or a path to a config.json{hint}; "
                               "known presets: " + ", ".join(sorted(_index())))


@lru_cache(maxsize=None)
def _load_preset(name: str) -> ModelSpec:
    resource = _presets_dir().joinpath(f"{name}.json")
    source = f"autotune/presets/models/{name}.json"
    text = resource.read_text(encoding="utf-8")
    data = json.loads(text)
    spec = model_spec_from_config(data, source=source)
    return replace(spec, name=name, hf_id=_index()[name])

