"""Validation helpers: every bad value becomes one InputError naming file, field, value, expected."""
import math

import pytest

from autotune.errors import InputError
from autotune.specs.fields import (check_float, check_int, get_int, get_str, load_json_mapping,
                                   load_yaml_mapping, reject_unknown_keys)


@pytest.mark.parametrize("value", ["eighty", 0, -3, 1.5, True, None, float("nan"), 10**20])
def test_check_int_rejects(value):
    with pytest.raises(InputError, match=r"f\.json: field 'num_hidden_layers'.*expected an integer"):
        check_int(value, field="num_hidden_layers", source="f.json")


def test_check_int_accepts_integral_float():
    assert check_int(80.0, field="n", source="s") == 80


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 0.0, "1.5"])
def test_check_float_rejects(value):
    with pytest.raises(InputError, match="expected a finite number"):
        check_float(value, field="x", source="s")


def test_missing_required_field_is_named():
    with pytest.raises(InputError, match="field 'hidden_size'.*required integer"):
        get_int({}, "hidden_size", source="config.json")


def test_choice_lists_options():
    with pytest.raises(InputError, match="one of a, b"):
        get_str({"k": "c"}, "k", source="s", choices=["b", "a"])


def test_unknown_key_named():
    with pytest.raises(InputError, match="field 'bandwith'"):
        reject_unknown_keys({"bandwith": 1}, ["bandwidth"], source="h.yaml")


@pytest.mark.parametrize("content, expected", [
    (b"", "non-empty"),
    (b"{not json", "valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b"\x00\x01\x02\xff", "binary"),
    (b'{"a": NaN}', "valid JSON"),
])
def test_json_file_errors(tmp_path, content, expected):
    path = tmp_path / "config.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expected) as info:
        load_json_mapping(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content, expected", [
    (b"- a\n- b\n", "YAML mapping"),
    (b"a: [1, 2\n", "valid YAML"),
    (b"   \n", "non-empty"),
])
def test_yaml_file_errors(tmp_path, content, expected):
    path = tmp_path / "h.yaml"
    path.write_bytes(content)
    with pytest.raises(InputError, match=expected):
        load_yaml_mapping(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="an existing file"):
        load_json_mapping(tmp_path / "nope.json")
    with pytest.raises(InputError, match="not a directory"):
        load_yaml_mapping(tmp_path)
