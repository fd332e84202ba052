"""`autotune hardware [NAME|PATH] [--json]`: list the hardware presets, or show one device's figures."""
from __future__ import annotations

import argparse
import json
import textwrap


from autotune.specs.hardware import HardwareSpec, LinkSpec
from autotune.specs.hardware_loader import list_hardware_presets, load_hardware

WIDTH = 100
GB = 1e9
"""Vendors' decimal gigabytes, as the presets and every report use them."""
MIB = 2 ** 20
GIB = 2 ** 30


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("hardware", nargs="?", metavar="NAME|PATH",
                        help="a hardware preset or a YAML file of the same shape; without it, list the presets")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def run(args: argparse.Namespace) -> int:
    if args.hardware is None:
        specs = [load_hardware(name) for name in list_hardware_presets()]
        print(json.dumps([s.to_dict() for s in specs], indent=2) if args.json else preset_table(specs))
        return 0
    spec = load_hardware(args.hardware)
    print(json.dumps(spec.to_dict(), indent=2) if args.json else facts_text(spec))
    return 0


def preset_table(specs: list[HardwareSpec]) -> str:
    """Returns one aligned line per device (decimal GB to 0.1, TB/s, dense TFLOPS), within 100 columns."""
    header = ("NAME", "UNITS", "MEMORY", "MEM BW", "BF16", "FP8", "DEVICE LINK", "/NODE", "SPACE")
    rows = [header]
    for s in specs:
        units = f"{s.compute_units_per_device} {s.unit_name}" if s.compute_units_per_device > 1 else "1"
        fp8 = s.peak_tflops.get("fp8")
        rows.append((s.name, units, f"{s.memory_capacity_bytes / GB:.1f} GB",
                     f"{s.memory_bandwidth_bytes_per_s / 1e12:.3g} TB/s",
                     _tflops(s.peak_tflops.get("bf16")), _tflops(fp8),
                     f"{s.inter_device_link.bandwidth_bytes_per_s / 1e9:g} GB/s",
                     str(s.devices_per_node), s.default_space))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {1, 2, 3, 4, 5, 6, 7}
    lines = ["  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()
             for r in rows]
    lines.append("TFLOPS dense; link per direction; GB = 1e9 bytes; `autotune hardware NAME` for sources")
    return "\n".join(lines)


def _tflops(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def facts_text(spec: HardwareSpec) -> str:
    """Returns one device's figures, each followed by its source, wrapped to 100 columns."""
    device, unit = spec.device_name, spec.unit_name
    entries: list[tuple[str, str, str]] = [
        ("memory", f"{capacity_text(spec.memory_capacity_bytes)} per {device} "
                   f"({spec.memory_capacity_bytes:,.0f} bytes)", "memory_capacity_bytes"),
        ("memory bandwidth", f"{spec.memory_bandwidth_bytes_per_s / 1e12:g} TB/s per {device}",
         "memory_bandwidth_bytes_per_s"),
        ("peak (dense)", ", ".join(f"{k} {v:g}" for k, v in spec.peak_tflops.items()) + " TFLOPS/TOPS",
         "peak_tflops"),
        ("compute units", f"{spec.compute_units_per_device} {unit}s per {device}, sharing its memory and bandwidth"
                          if spec.compute_units_per_device > 1 else f"1 (a TP degree counts {device}s)",
         "compute_units_per_device"),
    ]
    for label, key, link in (("inside a " + device, "intra_device_link", spec.intra_device_link),
                             ("between " + device + "s", "inter_device_link", spec.inter_device_link),
                             ("between machines", "inter_node_link", spec.inter_node_link)):
        if link is not None:
            entries.append((label, _link_text(link), key))
    entries += [
        (f"{device}s per machine", str(spec.devices_per_node), "devices_per_node"),
        ("power", "not published" if spec.power_w is None else f"{spec.power_w:g} W", "power_w"),
        ("default space", spec.default_space, "default_space"),
    ]
    lines = textwrap.wrap(f"{spec.name}: {spec.description}", WIDTH, subsequent_indent="  ")
    label_width = max(len(label) for label, _, _ in entries)
    indent = " " * (label_width + 2)
    for label, value, key in entries:
        lines.extend(textwrap.wrap(f"{label.ljust(label_width)}  {value}", WIDTH, subsequent_indent=indent))
        for source in _sources_for(spec, key):
            lines.extend(textwrap.wrap(source, WIDTH, initial_indent=indent + "source: ",
                                       subsequent_indent=indent + "        "))
    return "\n".join(lines)


def capacity_text(capacity_bytes: float) -> str:
    """Returns a capacity as decimal GB to 0.1 ('48.0 GB'), with GiB beside it when the bytes are whole MiB.

    Whole MiB means the preset took what the driver reports (nvidia-smi counts MiB), so the binary
    figure is the one a user sees on the machine: '42.9 GB = 40.0 GiB'.
    """
    text = f"{capacity_bytes / GB:.1f} GB"
    if float(capacity_bytes).is_integer() and int(capacity_bytes) % MIB == 0:
        text += f" = {capacity_bytes / GIB:.1f} GiB"
    return text


def _link_text(link: LinkSpec) -> str:
    return (f"{link.name}: {link.bandwidth_bytes_per_s / 1e9:g} GB/s per direction, "
            f"{link.latency_s * 1e6:g} us per message")


def _sources_for(spec: HardwareSpec, key: str) -> list[str]:
    found = [(k, v) for k, v in spec.sources.items() if k == key or k.startswith(key + ".")]
    return [v if k == key else f"({k[len(key) + 1:]}) {v}" for k, v in found]
