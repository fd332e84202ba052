"""`autotune spaces [NAME|PATH] [--json]`: list the search spaces, or show one release's rules."""
from __future__ import annotations

import argparse
import json
import textwrap

from autotune.specs.space import SearchSpace, list_spaces, load_space

WIDTH = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("space", nargs="?", metavar="NAME|PATH",
                        help="a search-space preset or a YAML file of the same shape; without it, list the spaces")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def run(args: argparse.Namespace) -> int:
    if args.space is None:
        spaces = [load_space(name) for name in list_spaces()]
        print(json.dumps([s.to_dict() for s in spaces], indent=2) if args.json else space_table(spaces))
        return 0
    space = load_space(args.space)
    print(json.dumps(space.to_dict(), indent=2) if args.json else rules_text(space))
    return 0


def space_table(spaces: list[SearchSpace]) -> str:
    """Returns one aligned line per space, within 100 columns."""
    header = ("NAME", "RELEASES", "TP UNIT", "TP SIZES", "TPxPPxDP", "DEFAULT TP")
    rows = [header]
    for s in spaces:
        rows.append((s.name, ", ".join(s.covers_releases) or "-", s.tp_unit, _tp_sizes(s),
                     "= units" if s.world_size == "equal" else "<= units",
                     "per model" if s.default_tp is None else str(s.default_tp)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    lines.append("TP in PEs for Furiosa (8 = one RNGD card); `autotune spaces NAME` for every rule and source")
    return "\n".join(lines)


def _tp_sizes(space: SearchSpace) -> str:
    # Furiosa spaces count PEs of an 8-PE card; the GPU space counts devices.
    return space.describe_tp_rule(8 if space.tp_unit == "pe" else 1)


def rules_text(space: SearchSpace) -> str:
    """Returns the space's rules in words, one per line, wrapped to 100 columns."""
    unit = "PEs" if space.tp_unit == "pe" else "devices"
    device = "cards" if space.tp_unit == "pe" else "devices"
    per_device = 8 if space.tp_unit == "pe" else 1
    entries: list[tuple[str, str]] = [
        ("runtime", space.runtime + (f" {space.release}" if space.release else "")),
        ("covers releases", ", ".join(space.covers_releases) or "-"),
        ("TP counted in", unit + (" (TP 8 is one RNGD card)" if space.tp_unit == "pe" else "")),
        ("TP sizes", space.describe_tp_rule(per_device) + f" {unit}"),
    ]
    tp_extra = []
    if space.tp_within_node:
        tp_extra.append("a TP group stays inside one machine")
    if space.tp_divides_attention_heads:
        tp_extra.append("TP divides the attention heads")
    if space.kv_heads_divisible_by_cards:
        tp_extra.append(f"KV heads divisible by the {device} of a TP group")
    if tp_extra:
        entries.append(("TP also", "; ".join(tp_extra)))
    relation = "equal to" if space.world_size == "equal" else "at most"
    entries.append(("TP x PP x DP", f"{relation} the fleet's {unit}"))
    pp = []
    if space.pp_distinct_devices:
        pp.append(f"stages on distinct {device} (PP at most the {device})")
    if space.pp_max_stages is not None:
        pp.append(f"at most {space.pp_max_stages} stages")
    if space.pp_at_most_layers:
        pp.append("at least one layer per stage")
    if space.pp_each_attention_type:
        pp.append("a hybrid-attention model needs a layer of each attention type per stage")
    entries.append(("PP", "; ".join(pp) or "no limit beyond the fleet"))
    replica = []
    if space.replica_within_node:
        replica.append("inside one machine")
    if space.replica_max_devices is not None:
        replica.append(f"at most {space.replica_max_devices} {device} (ceil(TP/8) x PP)")
    entries.append(("one replica", "; ".join(replica) or "may span machines"))
    entries += [
        ("batch per replica", "at most the decode buckets': " + ", ".join(
            f"{b} up to {c:,} tokens" for b, c in space.decode_buckets) + " (x PP micro-batches)"
         if space.decode_buckets else "any (a setting the tool emits)"),
        ("weight dtypes", ", ".join(space.dtypes)),
        ("KV-cache dtypes", ", ".join(space.kv_dtypes)),
        ("default TP", "per model" if space.default_tp is None
         else f"{space.default_tp} {unit if space.default_tp > 1 else unit[:-1]}"),
        ("default PP", str(space.default_pp)),
        ("MoE degrees", f"expert parallel {space.describe_moe_rule('expert_parallel')}; attention DP "
                        f"{space.describe_moe_rule('attention_data_parallel')}"
         + (f" ({space.moe_parallel_source})" if space.moe_parallel_source else "")),
        ("rules from", space.source + " (its comments cite each rule's source)"),
    ]
    lines = textwrap.wrap(f"{space.name}: {space.description}", WIDTH, subsequent_indent="  ")
    width = max(len(label) for label, _ in entries)
    for label, value in entries:
        lines.extend(textwrap.wrap(f"{label.ljust(width)}  {value}", WIDTH, subsequent_indent=" " * (width + 2)))
    return "\n".join(lines)
