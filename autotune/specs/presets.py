"""Finding a preset by name, with a "did you mean" for near misses."""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from autotune.errors import InputError
from autotune.specs.fields import path_exists


def unknown_preset_error(kind: str, name: str, known: Iterable[str]) -> InputError:
    """Returns the error for an unknown preset, suggesting the closest known names."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name.lower(), [n.lower() for n in names], n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    return InputError(source=f"{kind} '{name}'", has_value=False,
                      expected=f"a {kind} preset or a path to a file{hint}; known presets: " + ", ".join(names))


def yaml_presets(directory: Path) -> list[str]:
    """Returns the names of the `*.yaml` presets in `directory`, sorted."""
    return sorted(p.stem for p in directory.glob("*.yaml"))


def find_yaml_preset(directory: Path, name: str) -> Path | None:
    """Returns the file of the preset called `name` in `directory` (case-insensitive), or None."""
    wanted = name.strip().lower()
    for preset in yaml_presets(directory):
        if preset.lower() == wanted:
            return directory / f"{preset}.yaml"
    return None


def resolve_yaml_preset(kind: str, name_or_path: str | Path, directory: Path) -> Path:
    """Returns the file a preset name (in `directory`) or a YAML path names.

    A text that is no preset counts as a path when it exists or looks like one (a slash, a
    .yaml suffix); anything else is an unknown preset, with a "did you mean".
    """
    if isinstance(name_or_path, Path):
        return name_or_path
    text = str(name_or_path)
    if not text.strip():
        raise InputError(source=kind, value=text, expected=f"a {kind} preset name or a YAML file path")
    preset = find_yaml_preset(directory, text)
    if preset is not None:
        return preset
    path = Path(text).expanduser()
    if path_exists(path) or "/" in text or "\\" in text or path.suffix.lower() in (".yaml", ".yml"):
        return path
    raise unknown_preset_error(kind, text, yaml_presets(directory))
