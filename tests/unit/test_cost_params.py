"""Loading and writing the cost model's parameter files."""
from __future__ import annotations

import pytest

from autotune.errors import InputError
from cost_models.params import DEFAULT_FITTED, DEFAULT_PARAMS_PATH, FITTED_BOUNDS, dump_params, load_params


def test_shipped_parameters_load_with_a_source_for_every_value():
    params = load_params()
    for name, (low, high) in FITTED_BOUNDS.items():
        assert low <= params.value(name) <= high
        assert params.sources[name.split(".")[0]].strip()
    for name in DEFAULT_FITTED:
        assert "fitted" in params.sources[name]
    assert params.runtime_reserve_bytes["rngd"] == 2048 * 2 ** 20   # max_io_memory_mb default 2048 MiB
    assert "command" in params.provenance


def test_with_values_sets_scalars_and_mapping_entries():
    params = load_params().with_values(step_overhead_s=0.5, **{"runtime_reserve_bytes.default": 1e9})
    assert params.step_overhead_s == 0.5
    assert params.value("runtime_reserve_bytes.default") == 1e9
    assert params.runtime_reserve_bytes["rngd"] == 2048 * 2 ** 20


def test_round_trip(tmp_path):
    params = load_params()
    out = tmp_path / "p.yaml"
    dump_params(params, out, header="test")
    again = load_params(out)
    assert again == params
    assert out.read_text().startswith("# test")


@pytest.mark.parametrize("edit, field", [
    (lambda t: t.replace("  bandwidth_efficiency:", "  bandwidth_efficiencyy:"), "bandwidth_efficiencyy"),
    (lambda t: t.replace("value: 4096", "value: -1"), "max_batch_per_replica"),
    (lambda t: "parameters: [1, 2]\n", "parameters"),
])
def test_bad_files_are_one_line_input_errors(tmp_path, edit, field):
    bad = tmp_path / "bad.yaml"
    bad.write_text(edit(DEFAULT_PARAMS_PATH.read_text()))
    with pytest.raises(InputError, match=field):
        load_params(bad)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        load_params(tmp_path / "absent.yaml")
