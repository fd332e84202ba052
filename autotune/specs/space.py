"""SearchSpace: the parallelism rules of one runtime release, loaded from `search_spaces/*.yaml`.

The rules are data: which TP sizes a release accepts, how TP x PP x DP relates to the
fleet's compute units, where pipeline stages may sit, what must divide what. The checks
that apply them to candidate rows live in `autotune.solver.rules`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from autotune.errors import InputError
from autotune.specs.dtypes import USER_DTYPES
from autotune.specs.fields import (check_int, get_bool, get_int, get_mapping, get_str, load_yaml_mapping,
                                   reject_unknown_keys)
from autotune.specs.presets import find_yaml_preset, resolve_yaml_preset, yaml_presets

SPACE_DIR = Path(__file__).resolve().parent.parent.parent / "search_spaces"

RUNTIMES = ("furiosa", "gpu")
TP_UNITS = ("pe", "device")
WORLD_SIZE_RELATIONS = ("equal", "at_most")
#: Which expert-parallel (EP) or attention-data-parallel (ADP) degrees a runtime runs, per stage of TP units:
#: 'none' only 1; 'one_or_all' 1 or all TP units of the stage; 'divisors' any divisor of TP.
MOE_DEGREE_RULES = ("none", "one_or_all", "divisors")

_TOP_KEYS = ("name", "release", "covers_releases", "runtime", "tp_unit", "description",
             "tensor_parallel", "pipeline_parallel", "world_size", "replica", "decode_buckets",
             "dtypes", "kv_dtypes", "defaults", "moe_parallel")
_TP_KEYS = ("sizes", "multiples_of", "powers_of_two", "cards_per_group", "max_units", "within_node",
            "divides_attention_heads", "kv_heads_divisible_by_cards")
_PP_KEYS = ("max_stages", "distinct_devices", "at_most_layers", "each_attention_type")
_REPLICA_KEYS = ("within_node", "max_devices")
_DEFAULT_KEYS = ("tensor_parallel_size", "pipeline_parallel_size")
_MOE_KEYS = ("expert_parallel", "attention_data_parallel", "source")
_MAX_DEGREE = 1 << 20


@dataclass(frozen=True, kw_only=True)
class SearchSpace:
    """The parallelism rules of one runtime release (Furiosa LLM or a GPU engine)."""

    name: str
    """Preset name (`furiosa-2024.2`) or the file it came from."""
    release: str | None
    """Release the rules are taken from (`2024.2`); None for the generic GPU space."""
    covers_releases: tuple[str, ...]
    """Every release these same rules apply to (`2024.2`, `2025.1`)."""
    runtime: str
    """'furiosa' or 'gpu'."""
    tp_unit: str
    """What a TP degree counts: 'pe' (RNGD: TP 8 is one card) or 'device'."""
    description: str

    tp_sizes: tuple[int, ...] = ()
    """TP sizes allowed explicitly."""
    tp_multiples_of: int | None = None
    """Also allowed: every positive multiple of this (2025.3: multiples of 8 PEs)."""
    tp_powers_of_two: bool = False
    """Also allowed: every power of two (GPU engines)."""
    tp_cards_per_group: tuple[int, ...] = ()
    """Also allowed: whole-device TP groups of these many devices (2026.4 kernels: 1, 2, 4, 8)."""
    tp_max_units: int | None = None
    """Largest TP size, in TP units; None: only the fleet bounds it."""
    tp_within_node: bool = False
    """A TP group must sit inside one machine."""
    tp_divides_attention_heads: bool = False
    """TP must divide the number of attention heads."""
    kv_heads_divisible_by_cards: bool = False
    """KV heads must be divisible by the devices of a TP group (2026.4 kernels)."""

    pp_max_stages: int | None = None
    pp_distinct_devices: bool = False
    """Pipeline stages must sit on distinct devices (Furiosa: strictly increasing NPU index)."""
    pp_at_most_layers: bool = True
    """Every stage needs at least one decoder layer."""
    pp_each_attention_type: bool = False
    """A hybrid-attention model's stages each need a layer of every attention type it has (sliding and global)."""

    world_size: str = "at_most"
    """How TP x PP x DP relates to the fleet's compute units: 'equal' or 'at_most'."""
    replica_within_node: bool = False
    """One replica (its TP x PP devices) must sit inside one machine."""
    replica_max_devices: int | None = None
    """Most devices one replica may span (2026.3: ceil(TP/8) x PP <= 8)."""

    decode_buckets: tuple[tuple[int, int], ...] = ()
    """(batch, widest context in tokens) of the compiled decode buckets the runtime picks itself
    (Furiosa 2026.2+ presets); empty: the runtime has no such limit (GPU engines, and Furiosa
    releases whose buckets the build command states, take the batch as a setting we emit)."""

    def max_decode_batch(self, context_len: int) -> int | None:
        """Returns the largest decode batch of one micro-batch whose bucket holds `context_len` tokens (None: no limit).

        A replica with PP stages runs PP micro-batches, so it holds at most this x PP sequences.
        """
        if not self.decode_buckets:
            return None
        return max((batch for batch, context in self.decode_buckets if context >= context_len), default=0)
    dtypes: tuple[str, ...] = USER_DTYPES
    """Weight formats the runtime serves."""
    kv_dtypes: tuple[str, ...] = USER_DTYPES
    """KV-cache formats the runtime serves."""
    default_tp: int | None = None
    """TP the release uses when none is given (None: per model, e.g. 2026.4's kernel presets)."""
    default_pp: int = 1
    source: str = field(default="", compare=False)
    """The file the rules were read from."""
    expert_parallel: str = "none"
    """Expert-parallel degrees the runtime runs for a mixture-of-experts model (one of MOE_DEGREE_RULES)."""
    attention_data_parallel: str = "none"
    """Attention data-parallel degrees the runtime runs for a mixture-of-experts model (MOE_DEGREE_RULES)."""
    moe_parallel_source: str = ""
    """Where the two rules above come from (the engines' flags), in words."""

    def moe_degree_allowed(self, rule_name: str, tp: np.ndarray, degree: np.ndarray) -> np.ndarray:
        """Returns, per row, whether `degree` (EP or ADP) is one the rule `rule_name` ('expert_parallel' or
        'attention_data_parallel') allows for a stage of `tp` units (bool array); it must also divide TP."""
        rule = getattr(self, rule_name)
        tp = np.asarray(tp, dtype=np.int64)
        degree = np.asarray(degree, dtype=np.int64)
        if rule == "none":
            return degree == 1
        divides = (degree >= 1) & (tp % np.maximum(degree, 1) == 0)
        if rule == "one_or_all":
            return divides & ((degree == 1) | (degree == tp))
        return divides

    def moe_degrees(self, rule_name: str, tp: int) -> list[int]:
        """Returns the EP or ADP degrees the rule `rule_name` allows for a stage of `tp` units, ascending."""
        values = np.arange(1, max(int(tp), 1) + 1, dtype=np.int64)
        return [int(v) for v in values[self.moe_degree_allowed(rule_name, np.full(len(values), tp), values)]]

    def describe_moe_rule(self, rule_name: str) -> str:
        """Returns the rule in words, e.g. '1 or all the TP units of a stage'."""
        return {"none": "1 only", "one_or_all": "1 or all the TP units of a stage",
                "divisors": "any divisor of TP"}[getattr(self, rule_name)]

    def tp_allowed(self, tp: np.ndarray, units_per_device: int) -> np.ndarray:
        """Returns, per TP size, whether the release's TP-size rule accepts it (bool array)."""
        tp = np.asarray(tp, dtype=np.int64)
        ok = np.isin(tp, np.array(self.tp_sizes, dtype=np.int64))
        if self.tp_multiples_of:
            ok |= (tp % self.tp_multiples_of == 0) & (tp > 0)
        if self.tp_powers_of_two:
            ok |= (tp > 0) & ((tp & (tp - 1)) == 0)
        if self.tp_cards_per_group:
            whole = tp % units_per_device == 0
            ok |= whole & np.isin(tp // units_per_device, np.array(self.tp_cards_per_group, dtype=np.int64))
        if self.tp_max_units is not None:
            ok &= tp <= self.tp_max_units
        return ok & (tp >= 1)

    def allowed_tp_sizes(self, max_units: int, units_per_device: int) -> list[int]:
        """Returns the TP sizes the TP-size rule accepts, from 1 to `max_units`, ascending."""
        if max_units < 1:
            return []
        candidates = np.arange(1, max_units + 1, dtype=np.int64)
        return [int(v) for v in candidates[self.tp_allowed(candidates, units_per_device)]]

    def describe_tp_rule(self, units_per_device: int) -> str:
        """Returns the TP-size rule in words, e.g. '4, 8' or '1, 2, 4 or a multiple of 8'."""
        parts = [", ".join(str(v) for v in self.tp_sizes)] if self.tp_sizes else []
        if self.tp_multiples_of:
            parts.append(f"a multiple of {self.tp_multiples_of}")
        if self.tp_powers_of_two:
            parts.append("a power of two")
        if self.tp_cards_per_group:
            sizes = ", ".join(str(n * units_per_device) for n in self.tp_cards_per_group)
            parts.append(sizes)
        text = " or ".join(parts) if parts else "none"
        if self.tp_max_units is not None:
            text += f" (at most {self.tp_max_units})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """Returns the rules as a JSON-ready mapping (the same shape as the YAML file)."""
        return {
            "name": self.name,
            "release": self.release,
            "covers_releases": list(self.covers_releases),
            "runtime": self.runtime,
            "tp_unit": self.tp_unit,
            "description": self.description,
            "tensor_parallel": {
                "sizes": list(self.tp_sizes),
                "multiples_of": self.tp_multiples_of,
                "powers_of_two": self.tp_powers_of_two,
                "cards_per_group": list(self.tp_cards_per_group),
                "max_units": self.tp_max_units,
                "within_node": self.tp_within_node,
                "divides_attention_heads": self.tp_divides_attention_heads,
                "kv_heads_divisible_by_cards": self.kv_heads_divisible_by_cards,
            },
            "pipeline_parallel": {
                "max_stages": self.pp_max_stages,
                "distinct_devices": self.pp_distinct_devices,
                "at_most_layers": self.pp_at_most_layers,
                "each_attention_type": self.pp_each_attention_type,
            },
            "world_size": self.world_size,
            "replica": {"within_node": self.replica_within_node, "max_devices": self.replica_max_devices},
            "decode_buckets": [list(pair) for pair in self.decode_buckets],
            "dtypes": list(self.dtypes),
            "kv_dtypes": list(self.kv_dtypes),
            "defaults": {"tensor_parallel_size": self.default_tp, "pipeline_parallel_size": self.default_pp},
            "moe_parallel": {"expert_parallel": self.expert_parallel,
                             "attention_data_parallel": self.attention_data_parallel,
                             "source": self.moe_parallel_source},
            "source": self.source,
        }


def _bucket_pairs(data: dict[str, Any], key: str, *, source: str) -> tuple[tuple[int, int], ...]:
    """Returns the [batch, context] pairs under `key`, each two integers >= 1 (empty when absent)."""
    value = data.get(key)
    if value is None:
        return ()
    ok = isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in pair) for pair in value)
    if not ok:
        raise InputError(source=source, field=key, value=value,
                         expected="a list of [batch, widest context] pairs of integers >= 1")
    return tuple((int(b), int(c)) for b, c in value)


def list_spaces() -> list[str]:
    """Returns the names of the shipped search spaces, sorted."""
    return yaml_presets(SPACE_DIR)


def space_preset_path(name: str) -> Path | None:
    """Returns the file of the search-space preset called `name` (case-insensitive), or None."""
    return find_yaml_preset(SPACE_DIR, name)


def load_space(name_or_path: str | Path) -> SearchSpace:
    """Returns the SearchSpace of a preset name or of a YAML file path."""
    path = _resolve(name_or_path)
    # A preset is named by its place in the package, so output does not depend on the install path.
    label = f"search_spaces/{path.name}" if path.parent == SPACE_DIR else str(path)
    return parse_space(load_yaml_mapping(path), source=label)


def release_label(release: str) -> str:
    """Returns the release label of `2026.3`, `furiosa-2026.3` or a wheel version `2026.3.0` (-> `2026.3`)."""
    name = str(release).strip()
    if name.lower().startswith("furiosa-"):
        name = name[len("furiosa-"):]
    parts = name.split(".")
    # A wheel version (2025.3.4) is the release (2025.3) plus a patch number.
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        name = ".".join(parts[:2])
    return name


def covers_release(space: SearchSpace, release: str) -> bool:
    """Returns whether `space`'s rules are those of `release` (its `covers_releases` lists it)."""
    return release_label(release) in space.covers_releases


def space_for_release(release: str) -> SearchSpace:
    """Returns the shipped SearchSpace whose `covers_releases` includes `release`; InputError if none does."""
    spaces = [load_space(name) for name in list_spaces()]
    for space in spaces:
        if covers_release(space, release):
            return space
    known = sorted({r for space in spaces for r in space.covers_releases})
    raise InputError(source="--release", value=release,
                     expected="a release a shipped search space covers: " + ", ".join(known))


def check_space_covers(space: SearchSpace, release: str) -> None:
    """Raises InputError when `space` (given with --space) does not hold the rules of `release` (--release)."""
    if not covers_release(space, release):
        covered = ", ".join(space.covers_releases) or "none"
        raise InputError(source="--release", value=release,
                         expected=f"a release the space {space.name} covers ({covered}); omit --space to use "
                                  f"the space of release {release_label(release)}")


def _resolve(name_or_path: str | Path) -> Path:
    return resolve_yaml_preset("space", name_or_path, SPACE_DIR)


def parse_space(data: dict[str, Any], *, source: str) -> SearchSpace:
    """Returns the SearchSpace a parsed YAML mapping describes; `source` names it in errors."""
    reject_unknown_keys(data, _TOP_KEYS, source=source)
    tp = _section(data, "tensor_parallel", _TP_KEYS, source=source)
    pp = _section(data, "pipeline_parallel", _PP_KEYS, source=source)
    replica = _section(data, "replica", _REPLICA_KEYS, source=source)
    defaults = _section(data, "defaults", _DEFAULT_KEYS, source=source)
    moe = _section(data, "moe_parallel", _MOE_KEYS, source=source)
    release = data.get("release")
    if release is not None:
        release = _release_string(release, field_name="release", source=source)
    covers = tuple(_release_string(v, field_name="covers_releases", source=source)
                   for v in _list(data, "covers_releases", source=source, default=[]))
    if release is not None and release not in covers:
        covers = (release, *covers)
    space = SearchSpace(
        name=get_str(data, "name", source=source),
        release=release,
        covers_releases=covers,
        runtime=get_str(data, "runtime", source=source, choices=RUNTIMES),
        tp_unit=get_str(data, "tp_unit", source=source, choices=TP_UNITS),
        description=get_str(data, "description", source=source, default=""),
        tp_sizes=_int_tuple(tp, "sizes", source=source, prefix="tensor_parallel."),
        tp_multiples_of=_optional_int(tp, "multiples_of", source=source, prefix="tensor_parallel."),
        tp_powers_of_two=get_bool(tp, "powers_of_two", source=source, default=False, prefix="tensor_parallel."),
        tp_cards_per_group=_int_tuple(tp, "cards_per_group", source=source, prefix="tensor_parallel."),
        tp_max_units=_optional_int(tp, "max_units", source=source, prefix="tensor_parallel."),
        tp_within_node=get_bool(tp, "within_node", source=source, default=False, prefix="tensor_parallel."),
        tp_divides_attention_heads=get_bool(tp, "divides_attention_heads", source=source, default=False,
                                            prefix="tensor_parallel."),
        kv_heads_divisible_by_cards=get_bool(tp, "kv_heads_divisible_by_cards", source=source, default=False,
                                             prefix="tensor_parallel."),
        pp_max_stages=_optional_int(pp, "max_stages", source=source, prefix="pipeline_parallel."),
        pp_distinct_devices=get_bool(pp, "distinct_devices", source=source, default=False,
                                     prefix="pipeline_parallel."),
        # Stated in every file, not defaulted: a space whose runtime allowed empty stages must say so.
        pp_at_most_layers=get_bool(pp, "at_most_layers", source=source, prefix="pipeline_parallel."),
        pp_each_attention_type=get_bool(pp, "each_attention_type", source=source, default=False,
                                        prefix="pipeline_parallel."),
        world_size=get_str(data, "world_size", source=source, choices=WORLD_SIZE_RELATIONS),
        replica_within_node=get_bool(replica, "within_node", source=source, default=False, prefix="replica."),
        replica_max_devices=_optional_int(replica, "max_devices", source=source, prefix="replica."),
        decode_buckets=_bucket_pairs(data, "decode_buckets", source=source),
        dtypes=_dtype_tuple(data, "dtypes", source=source),
        kv_dtypes=_dtype_tuple(data, "kv_dtypes", source=source),
        default_tp=_optional_int(defaults, "tensor_parallel_size", source=source, prefix="defaults."),
        default_pp=get_int(defaults, "pipeline_parallel_size", source=source, default=1, maximum=_MAX_DEGREE,
                           prefix="defaults."),
        source=source,
        # Absent: a space written before MoE degrees existed runs plain tensor parallel only.
        expert_parallel=get_str(moe, "expert_parallel", source=source, choices=MOE_DEGREE_RULES, default="none",
                                prefix="moe_parallel."),
        attention_data_parallel=get_str(moe, "attention_data_parallel", source=source, choices=MOE_DEGREE_RULES,
                                        default="none", prefix="moe_parallel."),
        moe_parallel_source=get_str(moe, "source", source=source, default="", prefix="moe_parallel."),
    )
    if not (space.tp_sizes or space.tp_multiples_of or space.tp_powers_of_two or space.tp_cards_per_group):
        raise InputError(source=source, field="tensor_parallel", value=tp,
                         expected="at least one of sizes, multiples_of, powers_of_two, cards_per_group")
    return space


def _section(data: dict[str, Any], key: str, allowed: tuple[str, ...], *, source: str) -> dict[str, Any]:
    table = get_mapping(data, key, source=source, default={})
    reject_unknown_keys(table, allowed, source=source, prefix=key + ".")
    return table


def _release_string(value: Any, *, field_name: str, source: str) -> str:
    # A bare 2024.2 in YAML is a float; a release is a label, so insist on the quoted form.
    if not isinstance(value, str) or not value.strip():
        raise InputError(source=source, field=field_name, value=value,
                         expected='a quoted release string such as "2024.2"')
    return value.strip()


def _list(data: dict[str, Any], key: str, *, source: str, default: Any = None, prefix: str = "") -> list[Any]:
    value = data.get(key)
    if value is None:
        if default is None:
            raise InputError(source=source, field=prefix + key, has_value=False, expected="a non-empty list")
        return list(default)
    if not isinstance(value, list):
        raise InputError(source=source, field=prefix + key, value=value, expected="a list")
    return value


def _int_tuple(data: dict[str, Any], key: str, *, source: str, prefix: str = "",
               required: bool = False) -> tuple[int, ...]:
    values = _list(data, key, source=source, default=None if required else [], prefix=prefix)
    if required and not values:
        raise InputError(source=source, field=prefix + key, value=values, expected="a non-empty list of integers")
    checked = [check_int(v, field=f"{prefix}{key}[{i}]", source=source, maximum=_MAX_DEGREE)
               for i, v in enumerate(values)]
    return tuple(sorted(set(checked)))


def _optional_int(data: dict[str, Any], key: str, *, source: str, prefix: str = "") -> int | None:
    if data.get(key) is None:
        return None
    return get_int(data, key, source=source, maximum=_MAX_DEGREE, prefix=prefix)


def _dtype_tuple(data: dict[str, Any], key: str, *, source: str) -> tuple[str, ...]:
    values = _list(data, key, source=source)
    if not values:
        raise InputError(source=source, field=key, value=values, expected="a non-empty list of dtypes")
    for i, value in enumerate(values):
        if value not in USER_DTYPES:
            raise InputError(source=source, field=f"{key}[{i}]", value=value,
                             expected="one of " + ", ".join(USER_DTYPES))
    return tuple(dict.fromkeys(values))
