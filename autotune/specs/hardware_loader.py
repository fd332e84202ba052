"""Loading a HardwareSpec from a preset name or a YAML file, validated at the edge.

A preset is `autotune/presets/hardware/<name>.yaml`; a user's own YAML file of the same
shape works wherever a preset name does. Every figure carries its unit in its key; its
source goes in a comment and in the `sources:` mapping (field -> source), so that the
command line can show where each number comes from.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from autotune.errors import InputError
from autotune.specs.dtypes import BYTES_PER_ELEMENT
from autotune.specs.fields import (check_float, get_float, get_int, get_mapping, get_str, load_yaml_mapping,
                                   reject_unknown_keys)
from autotune.specs.hardware import HardwareSpec, LinkSpec
from autotune.specs.presets import find_yaml_preset, resolve_yaml_preset, yaml_presets

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets" / "hardware"

_LINKS = ("intra_device_link", "inter_device_link", "inter_node_link")
_LINK_KEYS = ("name", "bandwidth_bytes_per_s", "latency_s")
_TOP_KEYS = ("name", "description", "device_name", "unit_name", "memory_capacity_bytes",
             "memory_bandwidth_bytes_per_s", "peak_tflops", "compute_units_per_device", *_LINKS,
             "devices_per_node", "power_w", "default_space", "sources")
#: Fields that hold a figure and so need a source (a link or peak_tflops may be sourced as a whole).
FIGURE_FIELDS = ("memory_capacity_bytes", "memory_bandwidth_bytes_per_s", "peak_tflops",
                 "compute_units_per_device", *_LINKS, "devices_per_node", "power_w", "default_space")

# Bounds that reject typos by orders of magnitude, not plausible future devices:
# 100 TB of memory, 1 PB/s of bandwidth, 1e6 TFLOPS (an exaflop) per device.
_MAX_MEMORY_BYTES = 1e14
_MAX_BANDWIDTH_BYTES_PER_S = 1e15
_MAX_TFLOPS = 1e6
_MAX_LATENCY_S = 1.0
_MAX_POWER_W = 1e5
_MAX_UNITS = 1024


def list_hardware_presets() -> list[str]:
    """Returns the names of the shipped hardware presets, sorted."""
    return yaml_presets(PRESET_DIR)


def hardware_preset_path(name: str) -> Path | None:
    """Returns the file of the preset called `name` (case-insensitive), or None."""
    return find_yaml_preset(PRESET_DIR, name)


def load_hardware(name_or_path: str | Path) -> HardwareSpec:
    """Returns the HardwareSpec of a preset name or of a YAML file path."""
    path = _resolve(name_or_path)
    return parse_hardware(load_yaml_mapping(path), source=str(path))


def _resolve(name_or_path: str | Path) -> Path:
    return resolve_yaml_preset("hardware", name_or_path, PRESET_DIR)


def parse_hardware(data: dict[str, Any], *, source: str) -> HardwareSpec:
    """Returns the HardwareSpec a parsed YAML mapping describes; `source` names it in errors."""
    reject_unknown_keys(data, _TOP_KEYS, source=source)
    name = get_str(data, "name", source=source)
    units = get_int(data, "compute_units_per_device", source=source, minimum=1, maximum=_MAX_UNITS)
    device_name = get_str(data, "device_name", source=source, default="device")
    unit_name = get_str(data, "unit_name", source=source, default=device_name if units == 1 else "unit")
    intra = _link(data, "intra_device_link", source=source, required=units > 1)
    if units == 1 and intra is not None:
        raise InputError(source=source, field="intra_device_link", value=data["intra_device_link"],
                         expected="null: a device of 1 compute unit has no link inside it")
    power = data.get("power_w")
    if power is not None:
        power = get_float(data, "power_w", source=source, maximum=_MAX_POWER_W)
    return HardwareSpec(
        name=name,
        description=get_str(data, "description", source=source, default=name),
        memory_capacity_bytes=get_float(data, "memory_capacity_bytes", source=source, maximum=_MAX_MEMORY_BYTES),
        memory_bandwidth_bytes_per_s=get_float(data, "memory_bandwidth_bytes_per_s", source=source,
                                               maximum=_MAX_BANDWIDTH_BYTES_PER_S),
        peak_tflops=_peak_tflops(data, source=source),
        compute_units_per_device=units,
        intra_device_link=intra,
        inter_device_link=_link(data, "inter_device_link", source=source, required=True),
        inter_node_link=_link(data, "inter_node_link", source=source, required=True),
        devices_per_node=get_int(data, "devices_per_node", source=source, minimum=1, maximum=100_000),
        power_w=power,
        default_space=_default_space(data, source=source),
        sources=_sources(data, source=source),
        device_name=device_name,
        unit_name=unit_name,
    )


def _peak_tflops(data: dict[str, Any], *, source: str) -> dict[str, float]:
    table = get_mapping(data, "peak_tflops", source=source)
    if not table:
        raise InputError(source=source, field="peak_tflops", value=table,
                         expected="a mapping dtype -> dense TFLOPS with at least one entry")
    known = sorted(BYTES_PER_ELEMENT)
    result = {}
    for dtype, value in table.items():
        if dtype not in BYTES_PER_ELEMENT:
            raise InputError(source=source, field=f"peak_tflops.{dtype}", has_value=False,
                             expected="one of the known dtypes: " + ", ".join(known))
        result[dtype] = check_float(value, field=f"peak_tflops.{dtype}", source=source, maximum=_MAX_TFLOPS)
    return dict(sorted(result.items()))


def _link(data: dict[str, Any], key: str, *, source: str, required: bool) -> LinkSpec | None:
    if data.get(key) is None:
        if required:
            raise InputError(source=source, field=key, has_value=False,
                             expected="a mapping with name, bandwidth_bytes_per_s, latency_s")
        return None
    table = get_mapping(data, key, source=source)
    prefix = key + "."
    reject_unknown_keys(table, _LINK_KEYS, source=source, prefix=prefix)
    return LinkSpec(
        name=get_str(table, "name", source=source, prefix=prefix),
        bandwidth_bytes_per_s=get_float(table, "bandwidth_bytes_per_s", source=source, prefix=prefix,
                                        maximum=_MAX_BANDWIDTH_BYTES_PER_S),
        latency_s=get_float(table, "latency_s", source=source, prefix=prefix, maximum=_MAX_LATENCY_S),
    )


def _default_space(data: dict[str, Any], *, source: str) -> str:
    # Imported here: the space module is a sibling loader, not a dependency of HardwareSpec.
    from autotune.specs.space import list_spaces, space_preset_path

    value = get_str(data, "default_space", source=source)
    if space_preset_path(value) is not None:
        return value
    relative = (Path(source).parent / value) if source else Path(value)
    if relative.is_file():
        return str(relative)
    raise InputError(source=source, field="default_space", value=value,
                     expected="a search-space preset (" + ", ".join(list_spaces()) + ") or a YAML file path")


def _sources(data: dict[str, Any], *, source: str) -> dict[str, str]:
    """Returns field -> source for every figure; figures the file leaves unsourced say so."""
    given = get_mapping(data, "sources", source=source, default={})
    allowed = set(FIGURE_FIELDS)
    for dtype in data.get("peak_tflops") or {}:
        allowed.add(f"peak_tflops.{dtype}")
    for link in _LINKS:
        allowed.update(f"{link}.{key}" for key in _LINK_KEYS)
    reject_unknown_keys(given, allowed, source=source, prefix="sources.")
    result: dict[str, str] = {}
    for key in given:
        result[key] = get_str(given, key, source=source, prefix="sources.").strip()
    for field_name in FIGURE_FIELDS:
        covered = field_name in result or any(k.startswith(field_name + ".") for k in result)
        if not covered and data.get(field_name) is not None:
            result[field_name] = f"no source given in {source}"
    return dict(sorted(result.items()))
