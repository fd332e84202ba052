"""CostParams: the cost model's efficiency and overhead constants, read from a YAML data file.

No efficiency or overhead figure lives in a formula: each is a field here, loaded from
`cost_models/params/default.yaml` (or a file the user names), with its source beside it.
Fitted fields come from `autotune calibrate`; the others are cited defaults of the runtimes.
"""
from __future__ import annotations

import csv
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from autotune.errors import InputError
from autotune.specs.fields import check_float, load_yaml_mapping, reject_unknown_keys

DEFAULT_PARAMS_PATH = Path(__file__).resolve().parent / "params" / "default.yaml"
#: The measurements the shipped parameters were fitted on (`hardware_id` names a hardware preset).
CALIBRATION_DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True, kw_only=True)
class CostParams:
    """Shared (not per-device) constants of the analytical cost model; units in the names."""

    compute_efficiency_16bit: float
    """Achieved fraction of the datasheet dense peak for 16-bit matmuls (fitted)."""
    compute_efficiency_8bit: float
    """Achieved fraction of the dense peak for 8-bit matmuls (fitted)."""
    compute_efficiency_4bit: float
    """Achieved fraction of the dense peak for 4-bit (FP4, INT4) matmuls (fitted)."""
    attention_compute_efficiency: float
    """Achieved fraction of the dense peak for attention score and value FLOPs (context FMHA and decode
    attention kernels: softmax, masking and head-sized matrices keep them below GEMM efficiency) (fitted)."""
    bandwidth_efficiency: float
    """Achieved fraction of the datasheet memory bandwidth when streaming weights and KV (fitted)."""
    attention_bandwidth_efficiency: float
    """Achieved fraction of the memory bandwidth when decode attention reads the KV cache (fitted)."""
    roofline_sharpness: float
    """p of the smooth roofline (t_c^p + t_m^p)^(1/p): 1 = no overlap, large = perfect overlap (fitted)."""
    layer_overhead_s: float
    """Fixed time per decoder layer per forward pass: kernel launches, norms, small ops (fitted)."""
    step_overhead_s: float
    """Fixed time per engine iteration: scheduling, sampling, host work (fitted)."""
    sequence_overhead_s: float
    """Time per sequence in an engine iteration: its logits, sampling and request bookkeeping (fitted)."""
    comm_bandwidth_efficiency: float
    """Achieved fraction of a link's datasheet bandwidth in all-reduce and send/recv (fitted)."""
    comm_bandwidth_efficiency_pcie: float
    """Achieved fraction of a PCIe peer-to-peer link's bandwidth (host bridges, no switch fabric) (fitted)."""
    comm_call_overhead_s: float
    """Fixed time per collective or send/recv call: launch and synchronization (fitted)."""
    activation_bytes_per_element: float
    """Bytes of one activation element on the wire and in workspaces (16-bit activations)."""
    activation_tokens: int
    """Tokens the engine's activation workspace is sized for (largest prefill chunk)."""
    max_batch_per_replica: int
    """Engine ceiling on sequences in flight per replica."""
    runtime_reserve_bytes: Mapping[str, float]
    """Per device, by hardware preset name ('default' for the rest): runtime and framework memory."""
    comm_buffer_bytes: Mapping[str, float]
    """Per device when TP > 1, by hardware name: communication library buffers."""
    memory_headroom_fraction: Mapping[str, float]
    """Fraction of device memory the engine leaves unused (memory-utilization setting), by hardware name."""
    sliding_window_kv: Mapping[str, float]
    intra_allreduce_fixed_s: Mapping[str, float]
    """Per hardware whose units exchange through shared memory (RNGD PEs): the fixed seconds of one
    all-reduce inside a device (`collectives_fit`); 0 ('default'): a ring over the intra link."""
    intra_allreduce_pair_s: Mapping[str, float]
    """Per hardware as above: seconds per ordered pair of units in one all-reduce inside a device;
    0 ('default'): a ring over the intra link with NCCL's per-call overhead."""
    """1 where the runtime caps sliding-window layers' KV cache and attention at the window, by hardware name."""
    hardware_values: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Hardware name -> fitted field -> that hardware's own value of a shared efficiency or overhead (the
    YAML gives such a field as a mapping with a 'default' entry, like the memory figures); `for_hardware`
    applies them. RNGD's serving fit (`cost_models.rngd_fit`) writes the 'rngd' entries."""
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Field name -> where its value comes from."""
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """How the file was produced (command, data, fit quality)."""

    def per_hardware(self, name: str, hardware_name: str) -> float:
        """Returns the value of the per-hardware mapping field `name` for `hardware_name`."""
        table = getattr(self, name)
        return float(table.get(hardware_name, table["default"]))

    def for_hardware(self, hardware_name: str) -> "CostParams":
        """Returns the parameters `hardware_name` is priced with: its own fitted values where it has them."""
        own = self.hardware_values.get(hardware_name)
        return replace(self, **own) if own else self

    def with_values(self, **values: float) -> "CostParams":
        """Returns a copy with some fields replaced (used by the fit); 'field.key' sets one mapping entry."""
        scalars = {k: v for k, v in values.items() if "." not in k}
        updated = replace(self, **scalars)
        for dotted, value in values.items():
            if "." in dotted:
                name, key = dotted.split(".", 1)
                table = dict(getattr(updated, name))
                table[key] = value
                updated = replace(updated, **{name: table})
        return updated

    def value(self, dotted: str) -> float:
        """Returns a scalar field, or one mapping entry named 'field.key'."""
        if "." in dotted:
            name, key = dotted.split(".", 1)
            return float(getattr(self, name)[key])
        return float(getattr(self, dotted))


#: Fields `autotune calibrate` can fit, with their physical bounds (lower, upper).
FITTED_BOUNDS: dict[str, tuple[float, float]] = {
    "compute_efficiency_4bit": (0.05, 1.0),
    "compute_efficiency_16bit": (0.05, 1.0),
    "compute_efficiency_8bit": (0.05, 1.0),
    "attention_compute_efficiency": (0.05, 1.0),
    "bandwidth_efficiency": (0.2, 1.0),
    "attention_bandwidth_efficiency": (0.05, 1.0),
    "roofline_sharpness": (1.0, 12.0),
    "layer_overhead_s": (0.0, 500e-6),
    "step_overhead_s": (0.0, 50e-3),
    "sequence_overhead_s": (0.0, 100e-6),
    "comm_bandwidth_efficiency": (0.05, 1.0),
    "comm_bandwidth_efficiency_pcie": (0.05, 1.0),
    "comm_call_overhead_s": (0.0, 200e-6),
    "runtime_reserve_bytes.default": (0.0, 8e9),
}

#: What `autotune calibrate` fits by default: the shared efficiencies and overheads the
#: calibration file pins (4-bit matmuls and memory figures have no rows there).
DEFAULT_FITTED: tuple[str, ...] = (
    "compute_efficiency_16bit", "compute_efficiency_8bit", "attention_compute_efficiency", "bandwidth_efficiency",
    "attention_bandwidth_efficiency", "roofline_sharpness", "layer_overhead_s", "step_overhead_s",
    "comm_bandwidth_efficiency", "comm_bandwidth_efficiency_pcie", "comm_call_overhead_s")

_SCALAR_FLOATS = ("compute_efficiency_16bit", "compute_efficiency_8bit", "compute_efficiency_4bit",
                  "attention_compute_efficiency",
                  "bandwidth_efficiency",
                  "attention_bandwidth_efficiency",
                  "roofline_sharpness", "layer_overhead_s", "step_overhead_s", "sequence_overhead_s",
                  "comm_bandwidth_efficiency", "comm_call_overhead_s", "comm_bandwidth_efficiency_pcie",
                  "activation_bytes_per_element")
_SCALAR_INTS = ("activation_tokens", "max_batch_per_replica")
#: CostParams fields that are not parameter entries of the file (`hardware_values` is stored inside them).
_NOT_IN_FILE = ("sources", "provenance", "hardware_values")
_MAPPINGS = ("runtime_reserve_bytes", "comm_buffer_bytes", "memory_headroom_fraction", "sliding_window_kv",
             "intra_allreduce_fixed_s", "intra_allreduce_pair_s")
_UPPER = {"roofline_sharpness": 100.0, "layer_overhead_s": 1.0, "step_overhead_s": 10.0, "sequence_overhead_s": 1.0,
          "comm_call_overhead_s": 1.0,
          "activation_bytes_per_element": 8.0}


def load_params(path: str | Path | None = None) -> CostParams:
    """Returns the CostParams in `path` (None: the shipped, fitted `params/default.yaml`).

    The shipped file is parsed once per version (size, modification time): a sweep asks for it at
    every point, and CostParams is frozen. A user's file is read each time it is named.
    """
    file = DEFAULT_PARAMS_PATH if path is None else Path(path)
    if file != DEFAULT_PARAMS_PATH:
        return _parse_params(file)
    try:
        stat = file.stat()
        version = (str(file.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return _parse_params(file)  # the reader turns the error into one line
    if version not in _PARSED:
        _PARSED[version] = _parse_params(file)
    return _PARSED[version]


#: Parsed parameter files by (path, size, mtime).
_PARSED: dict[tuple[str, int, int], CostParams] = {}


def _parse_params(file: Path) -> CostParams:
    """Returns the CostParams a parameter file holds (no cache)."""
    source = str(file)
    data = load_yaml_mapping(file)
    reject_unknown_keys(data, ("parameters", "provenance"), source=source)
    params = data.get("parameters")
    if not isinstance(params, dict):
        raise InputError(source=source, field="parameters", value=params, expected="a mapping of parameter entries")
    names = [f.name for f in fields(CostParams) if f.name not in _NOT_IN_FILE]
    reject_unknown_keys(params, names, source=source, prefix="parameters.")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    hardware_values: dict[str, dict[str, float]] = {}
    for name in names:
        where = f"parameters.{name}"
        entry = params.get(name)
        if not isinstance(entry, dict) or "value" not in entry:
            raise InputError(source=source, field=where, value=entry, expected="a mapping with 'value' and 'source'")
        reject_unknown_keys(entry, ("value", "source"), source=source, prefix=where + ".")
        src = entry.get("source")
        if not isinstance(src, str) or not src.strip():
            raise InputError(source=source, field=where + ".source", value=src,
                             expected="a non-empty string naming where the value comes from")
        sources[name] = src
        value = entry["value"]
        if name in EFFICIENCY_FIELDS and isinstance(value, dict):
            # A fitted field given per hardware: 'default' is the shared value, the other keys a hardware's own.
            if "default" not in value:
                raise InputError(source=source, field=where + ".value", value=value,
                                 expected="a number, or a mapping of hardware name -> number with a 'default' entry")
            for key, own in sorted(value.items()):
                if key != "default":
                    hardware_values.setdefault(str(key), {})[name] = _check_value(
                        name, own, source=source, where=f"{where}.value.{key}")
            value = value["default"]
        values[name] = _check_value(name, value, source=source, where=where + ".value")
    provenance = data.get("provenance") or {}
    if not isinstance(provenance, dict):
        raise InputError(source=source, field="provenance", value=provenance, expected="a mapping")
    return CostParams(**values, hardware_values=hardware_values, sources=sources, provenance=provenance)


def _check_value(name: str, value: Any, *, source: str, where: str) -> Any:
    if name in _SCALAR_FLOATS:
        upper = _UPPER.get(name, 1.0)
        inclusive_zero = name.endswith("_overhead_s")
        return check_float(value, field=where, source=source, minimum=0.0, maximum=upper,
                           exclusive_minimum=not inclusive_zero)
    if name in _SCALAR_INTS:
        return int(check_float(value, field=where, source=source, minimum=1.0, maximum=1e7, exclusive_minimum=False))
    if not isinstance(value, dict) or "default" not in value:
        raise InputError(source=source, field=where, value=value,
                         expected="a mapping of hardware name -> number with a 'default' entry")
    upper = 1.0 if name in ("memory_headroom_fraction", "sliding_window_kv") else 1e13
    return {str(k): check_float(v, field=f"{where}.{k}", source=source, minimum=0.0, maximum=upper,
                                exclusive_minimum=False) for k, v in sorted(value.items())}


def dump_params(params: CostParams, path: str | Path, *, header: str = "") -> None:
    """Writes `params` as YAML to `path` (sorted keys, every value with its source)."""
    entries: dict[str, Any] = {}
    for f in fields(CostParams):
        if f.name in _NOT_IN_FILE:
            continue
        value = getattr(params, f.name)
        own = {hw: float(f"{v[f.name]:.6g}") for hw, v in sorted(params.hardware_values.items()) if f.name in v}
        if isinstance(value, Mapping):
            value = {str(k): float(v) for k, v in sorted(value.items())}
        elif isinstance(value, float):
            value = float(f"{value:.6g}")
        if own:
            value = {"default": value, **own}
        entries[f.name] = {"value": value, "source": params.sources.get(f.name, "unknown")}
    document = {"provenance": dict(params.provenance), "parameters": entries}
    text = yaml.safe_dump(document, sort_keys=True, width=110, default_flow_style=False)
    comment = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    Path(path).write_text(comment + text, encoding="utf-8")


# --- which hardware the shipped fit has seen -------------------------------------------------------------

#: The fitted timing fields: efficiencies, roofline sharpness and overheads (not the memory figures,
#: whose per-hardware entries come from runtime documentation, not from a fit).
EFFICIENCY_FIELDS: tuple[str, ...] = tuple(name for name in FITTED_BOUNDS if "." not in name)


@dataclass(frozen=True, kw_only=True)
class Calibration:
    """Whether the efficiencies a hardware's answers use were fitted on that hardware's own measurements."""

    hardware: str
    hardware_fitted: bool
    fitted_hardware: tuple[str, ...]
    """Hardware the shipped fit has measurements (or its own efficiency entries) for, sorted."""

    @property
    def note(self) -> str:
        """Returns the statement for a reader, in one sentence."""
        seen = ", ".join(self.fitted_hardware) or "no hardware"
        if self.hardware_fitted:
            return f"{self.hardware} efficiencies fitted on measurements that include {self.hardware} ({seen})"
        return (f"{self.hardware} efficiencies fitted on measurements of other hardware ({seen}); "
                f"no {self.hardware} fit yet")

    def to_dict(self) -> dict[str, Any]:
        return {"hardware_fitted": self.hardware_fitted, "fitted_on": list(self.fitted_hardware), "note": self.note}


@functools.cache
def fitted_hardware(params_path: Path = DEFAULT_PARAMS_PATH,
                    data_dir: Path = CALIBRATION_DATA_DIR) -> tuple[str, ...]:
    """Returns the hardware names the parameters were fitted for, sorted: each `hardware_id` with rows in
    `data_dir/*.csv`, and each hardware key of an efficiency field given per hardware in `params_path`.

    Read from the data, never from a device's name: shipping RNGD measurements (or per-RNGD
    efficiencies) makes RNGD fitted without a code change.
    """
    files = sorted(Path(data_dir).glob("*.csv"))
    try:
        version = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in [Path(params_path), *files])
    except OSError:
        version = None
    if version is not None and version in _FITTED:
        return _FITTED[version]
    names: set[str] = set()
    for path in files:
        with path.open(newline="", encoding="utf-8") as stream:
            names.update(row["hardware_id"].strip() for row in csv.DictReader(stream)
                         if (row.get("hardware_id") or "").strip())
    entries = load_yaml_mapping(Path(params_path)).get("parameters") or {}
    for name in EFFICIENCY_FIELDS:
        value = (entries.get(name) or {}).get("value") if isinstance(entries.get(name), dict) else None
        if isinstance(value, dict):
            names.update(str(key) for key in value if key != "default")
    found = tuple(sorted(names))
    if version is not None:
        _FITTED[version] = found
    return found


#: fitted_hardware's answers by the version (path, size, mtime) of the files it read.
_FITTED: dict[tuple, tuple[str, ...]] = {}


def fitted_on(hardware_name: str) -> bool:
    """Returns whether the shipped parameters were fitted on `hardware_name`'s own measurements."""
    return hardware_name in fitted_hardware()


def calibration_for(hardware_name: str, params_path: str | Path | None = None) -> Calibration:
    """Returns what the fit says about `hardware_name` (fitted on it or on other hardware only).

    `params_path`: a user's parameter file (its per-hardware entries count as that hardware's fit);
    None: the shipped one.
    """
    seen = fitted_hardware() if params_path is None else fitted_hardware(Path(params_path))
    return Calibration(hardware=hardware_name, hardware_fitted=hardware_name in seen, fitted_hardware=seen)
