"""Reading typed, bounded values out of user mappings (JSON or YAML), with one-line errors.

Every loader validates at the edge with these helpers, so that specs inside the program
are plain typed objects and every error names the file, the field, the value and what was
expected.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping, Iterable
from pathlib import Path
from typing import Any

import yaml

from autotune.errors import InputError
from autotune.specs.yaml_io import parse_yaml

_MISSING = object()


def _unreadable(path: Path, exc: OSError) -> InputError:
    return InputError(source=str(path), has_value=False,
                      expected=f"a readable file ({exc.strerror or type(exc).__name__})")


def path_exists(path: Path) -> bool:
    """Returns whether `path` exists; an `InputError` when it cannot be looked at (a folder without access)."""
    try:
        return path.exists()
    except OSError as exc:
        raise _unreadable(path, exc) from None


def path_is_dir(path: Path) -> bool:
    """Returns whether `path` is a directory; an `InputError` when it cannot be looked at."""
    try:
        return path.is_dir()
    except OSError as exc:
        raise _unreadable(path, exc) from None


def read_text(path: Path) -> str:
    """Returns the UTF-8 text of `path`; an `InputError` for a missing, unreadable, binary or empty file."""
    try:
        if not path.exists():
            raise InputError(source=str(path), expected="an existing file", has_value=False)
        if path.is_dir():
            raise InputError(source=str(path), expected="a file, not a directory", has_value=False)
        raw = path.read_bytes()
    except OSError as exc:  # permission denied, an I/O error: the user's file, not our bug
        raise _unreadable(path, exc) from None
    if b"\x00" in raw:
        raise InputError(source=str(path), expected="a text file (it holds binary data)", has_value=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(source=str(path), expected="UTF-8 text (it holds binary data)",
                         has_value=False) from None
    if not text.strip():
        raise InputError(source=str(path), expected="a non-empty file", has_value=False)
    return text


def load_json_mapping(path: Path) -> dict[str, Any]:
    """Returns the JSON object in `path`."""
    text = read_text(path)
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InputError(source=str(path), expected=f"valid JSON ({exc.msg} at line {exc.lineno})",
                         has_value=False) from None
    except ValueError as exc:
        raise InputError(source=str(path), expected=f"valid JSON ({exc})", has_value=False) from None
    if not isinstance(data, dict):
        raise InputError(source=str(path), value=type(data).__name__, expected="a JSON object at the top level")
    return data


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """Returns the YAML mapping in `path` (numbers such as `48e9` read as floats)."""
    text = read_text(path)
    try:
        data = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(source=str(path), expected=f"valid YAML{where}", has_value=False) from None
    if not isinstance(data, dict):
        raise InputError(source=str(path), value=type(data).__name__, expected="a YAML mapping at the top level")
    return data


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def reject_unknown_keys(data: Mapping[str, Any], allowed: Iterable[str], *, source: str,
                        prefix: str = "") -> None:
    """Raises `InputError` naming the first key of `data` not in `allowed`."""
    allowed_set = set(allowed)
    for key in data:
        if key not in allowed_set:
            raise InputError(source=source, field=prefix + str(key), has_value=False,
                             expected="one of the known keys: " + ", ".join(sorted(allowed_set)))


def get_int(data: Mapping[str, Any], key: str, *, source: str, default: Any = _MISSING,
            minimum: int = 1, maximum: int = 10**13, prefix: str = "") -> int:
    """Returns `data[key]` as an int in [minimum, maximum]; bools, floats with a fraction, NaN rejected."""
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise InputError(source=source, field=prefix + key, has_value=False,
                             expected=f"a required integer >= {minimum}")
        return default
    return check_int(value, field=prefix + key, source=source, minimum=minimum, maximum=maximum)


def check_int(value: Any, *, field: str, source: str, minimum: int = 1, maximum: int = 10**13) -> int:
    """Returns `value` as an int in [minimum, maximum] or raises `InputError`."""
    expected = f"an integer in [{minimum}, {maximum}]"
    if isinstance(value, bool):
        raise InputError(source=source, field=field, value=value, expected=expected)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise InputError(source=source, field=field, value=value, expected=expected)
        value = int(value)
    if not isinstance(value, int):
        raise InputError(source=source, field=field, value=value, expected=expected)
    if not minimum <= value <= maximum:
        raise InputError(source=source, field=field, value=value, expected=expected)
    return value


def get_float(data: Mapping[str, Any], key: str, *, source: str, default: Any = _MISSING,
              minimum: float = 0.0, maximum: float = 1e30, exclusive_minimum: bool = True,
              prefix: str = "") -> float:
    """Returns `data[key]` as a finite float above `minimum` (or at least, if not exclusive)."""
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise InputError(source=source, field=prefix + key, has_value=False,
                             expected="a required number")
        return default
    return check_float(value, field=prefix + key, source=source, minimum=minimum, maximum=maximum,
                       exclusive_minimum=exclusive_minimum)


def check_float(value: Any, *, field: str, source: str, minimum: float = 0.0, maximum: float = 1e30,
                exclusive_minimum: bool = True) -> float:
    """Returns `value` as a finite float in range or raises `InputError`."""
    op = ">" if exclusive_minimum else ">="
    expected = f"a finite number {op} {minimum:g} and <= {maximum:g}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(source=source, field=field, value=value, expected=expected)
    value = float(value)
    too_low = value <= minimum if exclusive_minimum else value < minimum
    if not math.isfinite(value) or too_low or value > maximum:
        raise InputError(source=source, field=field, value=value, expected=expected)
    return value


def get_str(data: Mapping[str, Any], key: str, *, source: str, default: Any = _MISSING,
            choices: Iterable[str] | None = None, prefix: str = "") -> str:
    """Returns `data[key]` as a non-empty string, one of `choices` when given."""
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise InputError(source=source, field=prefix + key, has_value=False, expected="a required string")
        return default
    options = None if choices is None else sorted(choices)
    expected = "a non-empty string" if options is None else "one of " + ", ".join(options)
    if not isinstance(value, str) or not value.strip():
        raise InputError(source=source, field=prefix + key, value=value, expected=expected)
    if options is not None and value not in options:
        raise InputError(source=source, field=prefix + key, value=value, expected=expected)
    return value


def get_bool(data: Mapping[str, Any], key: str, *, source: str, default: Any = _MISSING,
             prefix: str = "") -> bool:
    """Returns `data[key]` as a bool (true/false only)."""
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise InputError(source=source, field=prefix + key, has_value=False, expected="true or false")
        return default
    if not isinstance(value, bool):
        raise InputError(source=source, field=prefix + key, value=value, expected="true or false")
    return value


def get_mapping(data: Mapping[str, Any], key: str, *, source: str, default: Any = _MISSING,
                prefix: str = "") -> dict[str, Any]:
    """Returns `data[key]` as a mapping."""
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        if default is _MISSING:
            raise InputError(source=source, field=prefix + key, has_value=False, expected="a mapping")
        return default
    if not isinstance(value, dict):
        raise InputError(source=source, field=prefix + key, value=value, expected="a mapping")
    return value
