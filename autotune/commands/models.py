"""`autotune models [NAME|PATH] [--json]`: list the model presets, or show one model's facts."""
from __future__ import annotations

import argparse
import json
from typing import Any

from autotune.specs.fields import check_int
from autotune.specs.model_loader import list_model_presets, load_model, model_to_dict

DEFAULT_CONTEXT_LEN = 2048


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", metavar="NAME|PATH",
                        help="a preset (short name or Hugging Face id), a config.json, or a folder holding one; "
                             "without it, list the presets")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    parser.add_argument("--context", type=int, default=DEFAULT_CONTEXT_LEN, metavar="TOKENS",
                        help="context length at which FLOPs per token are reported")


def run(args: argparse.Namespace) -> int:
    context_len = check_int(args.context, field="--context", source="command line", minimum=1,
                            maximum=10_000_000)
    if args.model is None:
        rows = [{"name": p.name, "hf_id": p.hf_id, "model_type": p.model_type, "total_params": p.total_params,
                 "active_params": p.active_params} for p in list_model_presets()]
        print(json.dumps(rows, indent=2) if args.json else _preset_table(rows))
        return 0
    facts = model_to_dict(load_model(args.model), context_len=context_len)
    print(json.dumps(facts, indent=2, sort_keys=True) if args.json else _facts_text(facts))
    return 0


def _billions(count: int) -> str:
    return f"{count / 1e9:,.2f}B"


def _preset_table(rows: list[dict[str, Any]]) -> str:
    """Returns the preset list as an aligned table (parameters in billions)."""
    header = ("NAME", "HUGGING FACE ID", "TYPE", "TOTAL", "ACTIVE")
    body = [(r["name"], r["hf_id"], r["model_type"], _billions(r["total_params"]),
             _billions(r["active_params"]) if r["active_params"] != r["total_params"] else "=")
            for r in rows]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = []
    for row in [header, *body]:
        left = "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3]))
        right = "  ".join(cell.rjust(widths[i + 3]) for i, cell in enumerate(row[3:]))
        lines.append(f"{left}  {right}".rstrip())
    return "\n".join(lines)


def _facts_text(facts: dict[str, Any]) -> str:
    """Returns one model's facts as aligned `label  value` lines."""
    flops = facts["flops_per_token"]
    gib = 1024 ** 3
    lines: list[tuple[str, str]] = [
        ("name", facts["name"]),
        ("hugging face id", facts["hf_id"] or "-"),
        ("model type", facts["model_type"]),
        ("total parameters", f"{facts['total_params']:,} ({_billions(facts['total_params'])})"),
        ("active parameters", f"{facts['active_params']:,} ({_billions(facts['active_params'])})"),
        *([("vision tower", f"{facts['vision_params']:,} ({_billions(facts['vision_params'])}), in the total "
                            "and in memory, unused by text tokens")] if facts.get("vision_params") else []),
        ("layers", str(facts["num_layers"])),
        ("hidden size", str(facts["hidden_size"])),
        ("intermediate size", str(facts["intermediate_size"])),
        ("attention heads", f"{facts['num_attention_heads']} query, {facts['num_key_value_heads']} key/value, "
                            f"head dim {facts['head_dim']}"),
        ("vocabulary", f"{facts['vocab_size']:,} (embeddings "
                       f"{'tied' if facts['tie_word_embeddings'] else 'untied'})"),
        ("max positions", f"{facts['max_position_embeddings']:,}"),
        ("max context", f"{facts['max_context_len']:,} tokens"
                        + (" (rope_scaling extends max positions)"
                           if facts["max_context_len"] > facts["max_position_embeddings"] else "")),
    ]
    if facts["num_experts"]:
        lines.append(("experts", f"{facts['num_experts']} routed, {facts['experts_per_token']} per token, "
                                 f"{facts['num_shared_experts']} shared, in {facts['num_moe_layers']} layers; "
                                 f"{facts['expert_params']:,} parameters each"))
    kv_note = "" if facts["kv_cache_shardable"] else " (MLA latent, not split by tensor parallelism)"
    lines.append(("KV cache per token", f"{facts['kv_cache_bytes_per_token']:,} bytes bf16, all layers{kv_note}"))
    if facts["sliding_window"]:
        lines.append(("sliding window", f"{facts['sliding_window']:,} tokens in {facts['num_sliding_layers']} "
                                        f"of {facts['num_layers']} layers"))
    checkpoint = facts.get("checkpoint")
    if checkpoint:
        scope = "routed experts only; the rest 16-bit" if checkpoint["experts_only"] else "decoder weights"
        lines.append(("checkpoint format", f"{checkpoint['method']} ({checkpoint['dtype']}, {scope}): "
                                           f"{checkpoint['weight_bytes'] / gib:,.2f} GiB"))
    for dtype, size in facts["weight_bytes"].items():
        lines.append((f"weights {dtype}", f"{size:,} bytes ({size / gib:,.2f} GiB)"))
    context = flops["context_len"]
    lines.append(("prefill FLOPs/token", f"{flops['prefill_linear']:.4g} linear + "
                                          f"{flops['prefill_attention']:.4g} attention (prompt {context})"))
    lines.append(("decode FLOPs/token", f"{flops['decode_linear']:.4g} linear + "
                                         f"{flops['decode_attention']:.4g} attention (context {context})"))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in lines)
