"""`autotune plan`: capacity planning through the serving simulator.

With --rate R: the fewest cards (devices for GPUs), the replica layout and the replicas that serve
R requests/s (Poisson arrivals, --seed) within the SLO percentiles, checked in the simulator (the
replicas serve R, one replica fewer does not). With --cards N: the highest rate N cards serve.
Both print the capacity table (cards -> highest rate served). Exit 0 with a plan, 1 when no layout
meets the SLOs or more than --max-cards would be needed (with the reason), 2 for bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from typing import Any

from autotune.commands import common_args as ca
from autotune.errors import EXIT_INFEASIBLE, EXIT_OK
from autotune.specs.hardware import counted

_NO_DEFAULT = ca.NO_AUTO_DEFAULT
#: Widest line of the text report.
MAX_WIDTH = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="NAME|PATH",
                        help="model preset (short name or Hugging Face id) or a config.json path" + _NO_DEFAULT)
    parser.add_argument("--hardware", default=ca.DEFAULT_HARDWARE, metavar="NAME|PATH",
                        help="hardware preset or YAML file")
    parser.add_argument("--rate", default=None, metavar="R",
                        help="requests/s to serve (Poisson arrivals): answer the fewest cards" + _NO_DEFAULT)
    parser.add_argument("--token-rate", default=None, metavar="T",
                        help="output tokens/s to serve instead of --rate (rate = T / mean output length)"
                             + _NO_DEFAULT)
    parser.add_argument("--cards", "--devices", dest="cards", default=None, metavar="N",
                        help="cards (devices for GPUs) to fill: answer the highest rate they serve" + _NO_DEFAULT)
    parser.add_argument("--max-cards", "--max-devices", dest="max_cards", default=None, metavar="N",
                        help="most cards a plan may use (default: 4096 compute units' worth)" + _NO_DEFAULT)
    parser.add_argument("--ttft-ms", default=None, metavar="MS", help="TTFT SLO (default: none)" + _NO_DEFAULT)
    parser.add_argument("--tpot-ms", default=None, metavar="MS", help="TPOT SLO (default: none)" + _NO_DEFAULT)
    parser.add_argument("--slo-percentile", default="90", metavar="50|90|99",
                        help="the percentile of TTFT and TPOT the SLOs bound")
    parser.add_argument("--input-len", default="2048", metavar="N", help="prompt tokens per request")
    parser.add_argument("--output-len", default="512", metavar="N", help="generated tokens per request")
    parser.add_argument("--workload", default=None, metavar="FILE",
                        help="CSV or JSONL of input_len, output_len per request (a sample; with a weight or count "
                             "column, a histogram), instead of --input-len/--output-len" + _NO_DEFAULT)
    parser.add_argument("--dtype", default=None, metavar="FORMAT",
                        help="weight format (default: the checkpoint's own when the runtime serves it, else bf16)"
                             + _NO_DEFAULT)
    parser.add_argument("--kv-dtype", default=None, metavar="FORMAT",
                        help="KV-cache format (default: as engines run the weights)" + _NO_DEFAULT)
    parser.add_argument("--space", default=None, metavar="NAME|PATH",
                        help="search space (runtime rules); default: the hardware's" + _NO_DEFAULT)
    ca.add_engine_argument(parser)
    parser.add_argument("--release", default=None, metavar="VERSION",
                        help="engine release of the profile (default: the profile's newest)" + _NO_DEFAULT)
    parser.add_argument("--requests", default="600", metavar="N", help="requests per simulated replica")
    ca.add_seed_argument(parser)
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="cost-model parameters (default: the file $AUTOTUNE_PARAMS names, else the shipped, "
                             "fitted ones)" + _NO_DEFAULT)
    parser.add_argument("--plot", default=None, metavar="FILE.png|svg",
                        help='also draw the capacity table (needs matplotlib: pip install ".[plot]")' + _NO_DEFAULT)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document" + _NO_DEFAULT)
    ca.add_mode_argument(parser)
    ca.add_fan_out_arguments(parser, what="find the layouts' capacities")


def run(args: argparse.Namespace) -> int:
    from autotune.solver.planning import plan
    from cost_models.serving.traffic import is_trace_file

    args.batch = "auto"
    workload = ca.workload_from_args(args)
    if args.plot is not None:
        from autotune.outputs.plots import output_path
        output_path(args.plot)  # a bad file name is refused before any simulation
    if args.workload is not None:
        is_trace_file(args.workload)  # unreadable files: one line, exit 2
    result = plan(
        args.model, args.hardware, workload, rate=ca.parse_positive_float(args.rate, "--rate"),
        cards=ca.parse_optional_int(args.cards, "--cards", maximum=100_000),
        token_rate=ca.parse_positive_float(args.token_rate, "--token-rate"),
        slo_percentile=ca.parse_int(args.slo_percentile, "--slo-percentile", maximum=100),
        max_cards=ca.parse_optional_int(args.max_cards, "--max-cards", maximum=100_000),
        seed=ca.parse_int(args.seed, "--seed", minimum=0, maximum=2**31 - 1),
        requests=ca.parse_int(args.requests, "--requests", maximum=1_000_000),
        lengths_file=args.workload, engine=args.engine, release=args.release, space=args.space,
        params=ca.params_from_args(args), mode=args.mode, **ca.fan_out_from_args(args))
    if args.plot is not None and result.capacity:
        from autotune.outputs.plots import capacity_plot
        capacity_plot(result, args.plot)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render(result))
    if result.recommendations or (result.disaggregated or {}).get("prefill"):
        return EXIT_OK
    print(f"autotune plan: no plan ({result.status}): {result.reasons[0]}", file=sys.stderr)
    return EXIT_INFEASIBLE


def _dist_row(name: str, dist: Any, slo: str = "") -> str:
    if dist is None:
        return f"    {name:<12}{'overloaded':>11}"
    return f"    {name:<12}{dist.p50:>11.1f}{dist.p90:>11.1f}{dist.p99:>11.1f}{dist.mean:>11.1f}   {slo}"


def render(result) -> str:
    """Returns the human report: the plan, its check, the capacity table and the per-layout capacities."""
    a = result.assumptions
    word, key = a.device_name, f"p{a.slo_percentile}"
    slos = ", ".join(f"{name} {key} <= {value:g} ms" for name, value in (("TTFT", a.ttft_ms), ("TPOT", a.tpot_ms))
                     if value is not None) or "no SLOs (keep up with the rate)"
    lines = [f"{a.model} on {a.hardware} ({a.space}), {a.engine} {a.release}, {a.dtype} (KV {a.kv_dtype})",
             f"  lengths {a.lengths}; {slos}",
             f"  Poisson arrivals, {a.requests_per_simulation} requests per simulated replica, seed {a.seed}", ""]
    if result.recommendations:
        rec = result.recommendations[0]
        lay = rec.layout
        goal = (f"serve {result.rate:g} requests/s" if result.rate is not None
                else f"the most on {counted(result.cards, word)}")
        lines += [f"Plan ({result.status}) to {goal}:",
                  f"  {rec.replicas} x ({lay.label}) = {counted(rec.cards_used, word)}, "
                  f"max_num_seqs {lay.max_num_seqs}" + (f" ({lay.max_num_seqs // lay.limit_ranks} per ADP rank)"
                                                        if lay.limit_ranks > 1 else ""),
                  f"  serves up to {rec.rate_served:.4g} requests/s ({rec.rate_served / rec.replicas:.4g} per "
                  f"replica) within the SLOs",
                  f"  check at {rec.check.rate_per_s:.4g} requests/s over {counted(rec.replicas, 'replica')}: "
                  + ("meets the SLOs" if rec.check.meets_slos else f"misses: {rec.check.failure}"),
                  f"    {'ms':<12}{'p50':>11}{'p90':>11}{'p99':>11}{'mean':>11}"]
        res = rec.check.result
        lines += [_dist_row("TTFT", res.ttft_ms, "" if a.ttft_ms is None else f"(SLO: {key} <= {a.ttft_ms:g})"),
                  _dist_row("TPOT", res.tpot_ms, "" if a.tpot_ms is None else f"(SLO: {key} <= {a.tpot_ms:g})"),
                  _dist_row("end-to-end", res.e2e_latency_ms)]
        if res.goodput_requests_per_s is not None:
            lines.append(f"    goodput {res.goodput_requests_per_s:.4g} requests/s, "
                         f"{res.output_tokens_per_s:,.1f} output tokens/s")
        fewer = rec.fewer
        lines.append(f"  one replica fewer ({fewer.replicas}): "
                     + ("also meets the SLOs" if fewer.meets_slos else f"does not serve it ({fewer.failure})"))
    else:
        lines.append(f"No plan ({result.status}):")
        lines += [f"  {reason}" for reason in result.reasons]
    if result.modes is not None:
        from autotune.outputs.disagg_report import comparison_line, pool_line
        from autotune.results import Recommendation

        said = [comparison_line(dict(result.modes), rate=result.rate, word=word)]
        d = result.disaggregated
        if d.get("prefill"):
            said.append(pool_line(1, Recommendation(plan=None, metrics=d), word).replace(
                "#1 disaggregated", "disaggregated").replace(" (the table's TP/PP/DP are the decode pool's)", ""))
        else:
            said += [f"disaggregated: {reason}" for reason in d.get("reasons", [])[:3]]
        lines.append("")
        for text in said:  # wrapped, not clipped: these lines carry the answer
            lines += textwrap.wrap(text, width=MAX_WIDTH, subsequent_indent="    ")
    if result.capacity:
        lines += ["", "Capacity (highest rate served within the SLOs; where it rises):",
                  f"  {word + 's':>8}{'requests/s':>14}   layout"]
        lines += [f"  {p.cards:>8}{p.rate_served:>14.4g}   {p.replicas} x {p.label}" for p in result.capacity]
    if result.layouts:
        width = max(16, *(len(c.layout.label) + 1 for c in result.layouts))
        lines += ["", "Per replica (layouts of one replica on one machine):",
                  f"  {'layout':<{width}}{word + 's':>7}{'max_num_seqs':>14}{'requests/s':>12}  note"]
        for c in result.layouts:
            devices = c.layout.devices_per_group
            share = f"{devices}/{c.layout.replicas_per_group}" if c.layout.replicas_per_group > 1 else str(devices)
            note = "" if c.reason is None else c.reason
            lines.append(f"  {c.layout.label:<{width}}{share:>7}{c.layout.max_num_seqs:>14}"
                         f"{c.rate_per_s:>12.4g}  {note}")
    lines += [f"  note: {note}" for note in result.notes]
    lines.append("  note: max_num_seqs is each layout's largest batch within memory and the runtime's buckets")
    lines.append(f"  note: {a.requests_per_simulation} requests per simulated replica, more when over 1/8 of them "
                 f"are in the system")
    if not a.calibration.hardware_fitted:
        lines += textwrap.wrap(f"calibration: {a.calibration.note}", width=MAX_WIDTH)
    return "\n".join(_clip(line.rstrip()) for line in lines)


def _clip(line: str) -> str:
    """Returns `line` cut to MAX_WIDTH columns (long reasons end in '...')."""
    return line if len(line) <= MAX_WIDTH else line[:MAX_WIDTH - 3] + "..."
