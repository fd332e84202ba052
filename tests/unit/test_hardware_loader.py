"""Hardware presets and the hardware YAML loader: figures, sources, and every kind of bad input."""
from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest
import yaml

from autotune.errors import InputError
from autotune.specs.hardware_loader import (FIGURE_FIELDS, PRESET_DIR, list_hardware_presets, load_hardware,
                                            parse_hardware)
from tests.shared_data import TEST_DATA

#: Issue 2 part 3: the preset names, exactly.
REQUIRED_PRESETS = {"rngd", "h100-sxm", "h100-pcie", "h200-sxm", "a100-sxm-40g", "a100-sxm-80g",
                    "a100-pcie-40g", "a100-pcie-80g", "l40s", "b200", "mi300x", "gaudi2", "gaudi3",
                    "tpu-v5e", "rtx-pro-6000"}


def _preset_yaml(name: str) -> dict:
    return yaml.safe_load((PRESET_DIR / f"{name}.yaml").read_text())


def _write(tmp_path: Path, data, name: str = "hw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def _valid_gpu() -> dict:
    data = _preset_yaml("h100-sxm")
    data["name"] = "my-gpu"
    return data


def test_presets_are_exactly_the_issue_names():
    assert set(list_hardware_presets()) == REQUIRED_PRESETS
    assert list_hardware_presets() == sorted(list_hardware_presets())


def test_rngd_has_8_pes_48_gb_and_1_5_tb_per_s_with_sources():
    # Furiosa reference [S-1]: 48 GB HBM3, 1.5 TB/s; [S-10] NUM_PES_PER_NPU = 8.
    rngd = load_hardware("rngd")
    assert rngd.compute_units_per_device == 8
    assert rngd.memory_capacity_bytes == 48e9
    assert rngd.memory_bandwidth_bytes_per_s == 1.5e12
    assert rngd.peak_tflops["fp8"] == 512.0 and rngd.peak_tflops["bf16"] == 256.0
    assert rngd.intra_device_link is not None
    assert "PCIe Gen5 x16" in rngd.inter_device_link.name
    assert rngd.devices_per_node == 8
    assert rngd.default_space == "furiosa-2026.4"
    assert "48 GB" in rngd.sources["memory_capacity_bytes"]
    assert "1.5 TB/s" in rngd.sources["memory_bandwidth_bytes_per_s"]
    assert "NUM_PES_PER_NPU" in rngd.sources["compute_units_per_device"]


def test_rngd_intra_card_bandwidth_is_derived_from_the_hbm():
    rngd = load_hardware("rngd")
    # Derivation stated in the preset: HBM / 8 PEs / 2 (written once, read once).
    assert rngd.intra_device_link.bandwidth_bytes_per_s == pytest.approx(1.5e12 / 8 / 2)


@pytest.mark.parametrize("name", sorted(REQUIRED_PRESETS))
def test_every_preset_figure_has_a_real_source(name):
    spec = load_hardware(name)
    assert spec.name == name
    for field_name in FIGURE_FIELDS:
        value = getattr(spec, field_name)
        if value is None:
            continue
        keys = [k for k in spec.sources if k == field_name or k.startswith(field_name + ".")]
        assert keys, f"{name}: {field_name} has no source"
        for key in keys:
            assert "no source given" not in spec.sources[key]
            assert len(spec.sources[key]) > 10
    # A link is sourced either whole or for both its bandwidth and its latency.
    for link in ("inter_device_link", "inter_node_link", "intra_device_link"):
        if getattr(spec, link) is None:
            continue
        whole = link in spec.sources
        parts = {f"{link}.bandwidth_bytes_per_s", f"{link}.latency_s"} <= set(spec.sources)
        assert whole or parts, f"{name}: {link} needs sources for bandwidth and latency"


@pytest.mark.parametrize("name", sorted(REQUIRED_PRESETS))
def test_every_preset_is_consistent(name):
    spec = load_hardware(name)
    if spec.compute_units_per_device == 1:
        assert spec.intra_device_link is None
        assert spec.default_space == "gpu"
    else:
        assert spec.intra_device_link is not None
    # Inside a machine is at least as fast as between machines.
    assert spec.inter_device_link.bandwidth_bytes_per_s >= spec.inter_node_link.bandwidth_bytes_per_s
    assert spec.inter_device_link.latency_s <= spec.inter_node_link.latency_s
    assert json.loads(json.dumps(spec.to_dict()))["name"] == name


def test_every_preset_file_comments_its_figures():
    # House rule: the source sits in a comment next to the value (inline, or on the line above),
    # not only in the `sources:` mapping.
    figures = ("memory_capacity_bytes", "memory_bandwidth_bytes_per_s", "devices_per_node", "power_w",
               "bandwidth_bytes_per_s", "latency_s", "compute_units_per_device", "default_space")
    for name in REQUIRED_PRESETS:
        lines = (PRESET_DIR / f"{name}.yaml").read_text().split("sources:")[0].splitlines()
        for previous, line in zip(["", *lines], lines):
            if line.strip().split(":", 1)[0] in figures:
                assert "#" in line or previous.strip().startswith("#"), f"{name}: {line}"


# Device rows of ../shared/data/hardware.csv -> preset name.
CSV_ROWS = {
    "NVIDIA H100 SXM5 80GB": "h100-sxm",
    "NVIDIA H100 PCIe 80GB": "h100-pcie",
    "NVIDIA H200 SXM 141GB": "h200-sxm",
    "NVIDIA A100 SXM4 40GB": "a100-sxm-40g",
    "NVIDIA A100 SXM4 80GB": "a100-sxm-80g",
    "NVIDIA A100 PCIe 40GB": "a100-pcie-40g",
    "NVIDIA A100 PCIe 80GB": "a100-pcie-80g",
    "NVIDIA L40S 48GB": "l40s",
    "NVIDIA B200 (HGX/DGX B200, per GPU)": "b200",
    "AMD Instinct MI300X (OAM)": "mi300x",
    "Intel Gaudi 2 (HL-225H OAM)": "gaudi2",
    "Intel Gaudi 3 (HL-325L OAM)": "gaudi3",
    "Google Cloud TPU v5e": "tpu-v5e",
    "FuriosaAI RNGD": "rngd",
    "NVIDIA RTX PRO 6000 Blackwell Server Edition": "rtx-pro-6000",
}


def test_presets_match_the_shared_hardware_table():
    # Golden: ../shared/data/hardware.csv, copied to tests/data (datasheet figures with their sources per row).
    with open(TEST_DATA / "hardware.csv", newline="") as handle:
        rows = {row["device"]: row for row in csv.DictReader(handle)}
    assert set(CSV_ROWS) <= set(rows)
    columns = {"bf16": "bf16_dense_tflops", "fp16": "fp16_dense_tflops", "fp8": "fp8_dense_tflops",
               "int8": "int8_dense_tops", "fp4": "fp4_dense_tflops"}
    for device, name in CSV_ROWS.items():
        row, spec = rows[device], load_hardware(name)
        # Capacity is what the driver reports usable (nvidia-smi MiB, cited in the preset); the datasheet's
        # decimal figure stays in the source text, and usable memory is within 10% above it (GiB vs GB).
        datasheet = float(row["memory_capacity_GB"]) * 1e9
        assert datasheet <= spec.memory_capacity_bytes <= 1.1 * datasheet, name
        assert f"{float(row['memory_capacity_GB']):g} GB" in spec.sources["memory_capacity_bytes"], name
        assert spec.memory_bandwidth_bytes_per_s == pytest.approx(float(row["memory_bandwidth_GBps"]) * 1e9), name
        for dtype, column in columns.items():
            if row[column].strip():
                assert spec.peak_tflops[dtype] == pytest.approx(float(row[column])), (name, dtype)
            else:
                assert dtype not in spec.peak_tflops, (name, dtype)
        if row["tdp_w"].strip():
            assert spec.power_w == pytest.approx(float(row["tdp_w"])), name
        else:
            assert spec.power_w is None, name
        per_direction = row["scale_up_bw_GBps_per_direction_per_device"].strip()
        if per_direction and spec.compute_units_per_device == 1 and name not in ("h100-pcie", "a100-pcie-40g",
                                                                                 "a100-pcie-80g", "gaudi2", "gaudi3"):
            # SXM/OAM scale-up links; PCIe cards use PCIe (bridges pair only 2), Gaudi leaves ports for scale-out.
            assert spec.inter_device_link.bandwidth_bytes_per_s == pytest.approx(float(per_direction) * 1e9), name


def test_preset_names_are_case_insensitive_and_paths_work(tmp_path):
    assert load_hardware("RNGD").name == "rngd"
    assert load_hardware(" H100-SXM ").name == "h100-sxm"
    assert load_hardware(str(PRESET_DIR / "l40s.yaml")).name == "l40s"
    assert load_hardware(PRESET_DIR / "l40s.yaml") == load_hardware("l40s")


def test_a_users_yaml_file_works_where_a_preset_does(tmp_path):
    data = _valid_gpu()
    path = _write(tmp_path, data)
    spec = load_hardware(str(path))
    assert spec.name == "my-gpu"
    assert spec.memory_capacity_bytes == 81559 * 2**20  # H100 SXM as nvidia-smi reports it (preset source)


def test_scientific_notation_without_a_sign_reads_as_a_number(tmp_path):
    text = re.sub(r"(?m)^memory_capacity_bytes: \S+", "memory_capacity_bytes: 80e9",
                  (PRESET_DIR / "h100-sxm.yaml").read_text())
    assert "memory_capacity_bytes: 80e9" in text
    assert load_hardware(str(_write(tmp_path, text))).memory_capacity_bytes == 80e9


def test_figures_without_a_source_say_so(tmp_path):
    data = _valid_gpu()
    del data["sources"]
    path = _write(tmp_path, data)
    spec = load_hardware(str(path))
    assert spec.sources["memory_capacity_bytes"] == f"no source given in {path}"
    assert "power_w" in spec.sources


def test_default_space_may_be_a_file_beside_the_hardware(tmp_path):
    space = Path(__file__).resolve().parents[2] / "search_spaces" / "gpu.yaml"
    (tmp_path / "my-space.yaml").write_text(space.read_text())
    data = _valid_gpu()
    data["default_space"] = "my-space.yaml"
    spec = load_hardware(str(_write(tmp_path, data)))
    assert spec.default_space == str(tmp_path / "my-space.yaml")


# ---------------------------------------------------------------------------------------------
# Bad input: each one is an InputError naming the file, the field, the value and what was expected.


def _error(tmp_path, data) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_hardware(str(path))
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="expected an existing file"):
        load_hardware(str(tmp_path / "nope.yaml"))


def test_directory_where_a_file_is_expected(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_hardware(str(tmp_path))


def test_empty_file(tmp_path):
    assert "non-empty" in _error(tmp_path, "")


def test_invalid_yaml(tmp_path):
    assert "valid YAML" in _error(tmp_path, "name: [unclosed\n")


def test_yaml_that_is_a_list(tmp_path):
    assert "mapping at the top level" in _error(tmp_path, "- rngd\n- h100\n")


def test_binary_junk(tmp_path):
    path = tmp_path / "junk.yaml"
    path.write_bytes(bytes(range(256)))
    with pytest.raises(InputError, match="binary"):
        load_hardware(str(path))


def test_unknown_key_is_named(tmp_path):
    data = _valid_gpu()
    data["memory_capcity_bytes"] = 1e9
    assert "memory_capcity_bytes" in _error(tmp_path, data)


def test_unknown_nested_key_is_named(tmp_path):
    data = _valid_gpu()
    data["inter_device_link"]["latency_us"] = 1.0
    assert "inter_device_link.latency_us" in _error(tmp_path, data)


def test_unknown_source_key_is_named(tmp_path):
    data = _valid_gpu()
    data["sources"]["memory_size"] = "a datasheet"
    assert "sources.memory_size" in _error(tmp_path, data)


@pytest.mark.parametrize("field_name", ["name", "memory_capacity_bytes", "memory_bandwidth_bytes_per_s",
                                        "peak_tflops", "compute_units_per_device", "inter_device_link",
                                        "inter_node_link", "devices_per_node", "default_space"])
def test_missing_required_field(tmp_path, field_name):
    data = _valid_gpu()
    del data[field_name]
    message = _error(tmp_path, data)
    assert f"'{field_name}'" in message


@pytest.mark.parametrize("field_name,value,expected", [
    ("memory_capacity_bytes", "eighty", "finite number"),
    ("memory_capacity_bytes", math.nan, "finite number"),
    ("memory_capacity_bytes", -80e9, "finite number"),
    ("memory_capacity_bytes", 0, "finite number"),
    ("memory_capacity_bytes", 1e20, "<= 1e+14"),
    ("memory_bandwidth_bytes_per_s", math.inf, "finite number"),
    ("compute_units_per_device", 0, "integer in [1, 1024]"),
    ("compute_units_per_device", 2.5, "integer in [1, 1024]"),
    ("compute_units_per_device", True, "integer in [1, 1024]"),
    ("devices_per_node", "eight", "integer"),
    ("devices_per_node", -8, "integer"),
    ("power_w", 1e9, "<= 100000"),
    ("peak_tflops", [989.4], "mapping"),
    ("peak_tflops", {}, "at least one entry"),
    ("default_space", "furiosa-1999.1", "search-space preset"),
])
def test_bad_values(tmp_path, field_name, value, expected):
    data = _valid_gpu()
    data[field_name] = value
    message = _error(tmp_path, data)
    assert f"'{field_name}'" in message
    assert expected in message


def test_bad_peak_tflops_entries(tmp_path):
    data = _valid_gpu()
    data["peak_tflops"] = {"bf16": 989.4, "fp7": 1.0}
    assert "peak_tflops.fp7" in _error(tmp_path, data)
    data["peak_tflops"] = {"bf16": -1.0}
    assert "peak_tflops.bf16" in _error(tmp_path, data)


def test_bad_link_values(tmp_path):
    data = _valid_gpu()
    data["inter_device_link"]["latency_s"] = 5.0
    assert "inter_device_link.latency_s" in _error(tmp_path, data)
    data = _valid_gpu()
    data["inter_node_link"]["bandwidth_bytes_per_s"] = 0
    assert "inter_node_link.bandwidth_bytes_per_s" in _error(tmp_path, data)


def test_link_rules_follow_the_compute_units(tmp_path):
    data = _valid_gpu()
    data["intra_device_link"] = {"name": "x", "bandwidth_bytes_per_s": 1e9, "latency_s": 1e-6}
    assert "1 compute unit" in _error(tmp_path, data)
    data = _valid_gpu()
    data["compute_units_per_device"] = 8
    assert "'intra_device_link'" in _error(tmp_path, data)


def test_unknown_preset_suggests_the_closest():
    with pytest.raises(InputError) as info:
        load_hardware("h100sxm")
    message = str(info.value)
    assert "did you mean" in message and "h100-sxm" in message


def test_parse_hardware_names_its_source_in_errors():
    with pytest.raises(InputError, match="my-source"):
        parse_hardware({"name": "x"}, source="my-source")


def test_the_format_guide_example_loads(tmp_path):
    guide = (PRESET_DIR / "README.md").read_text()
    example = guide.split("```yaml\n", 1)[1].split("```", 1)[0]
    spec = load_hardware(str(_write(tmp_path, example)))
    assert spec.name == "my-gpu" and spec.memory_capacity_bytes == 80e9
    assert spec.inter_device_link.latency_s == 0.6e-6
    assert spec.sources["memory_capacity_bytes"] == "datasheet ..."
    assert spec.sources["devices_per_node"].startswith("no source given")
