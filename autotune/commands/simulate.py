"""`autotune simulate`: one configuration under traffic, through the serving simulator.

Exactly one of --rate (open loop), --concurrency (closed loop) or a --workload file with
timestamps (a trace). With --dp > 1 the traffic is split evenly over the replicas. `--mode disagg`
runs a prefill pool (--prefill-tp/-pp/-replicas, and an MoE pool's --prefill-ep/-adp) and a decode pool
(--decode-tp/-pp/-replicas/-ep/-adp) with the KV cache moved between them (cost_models/serving/disagg.py;
open-loop traffic only). Exit 0 with the results (an overloaded replica is reported as such, not as a
latency), 1 when the layout cannot hold one request, 2 for bad input.
"""
from __future__ import annotations

import argparse
import json

from autotune.commands import common_args as ca
from autotune.errors import EXIT_OK, InputError

_NO_DEFAULT = ca.NO_AUTO_DEFAULT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, metavar="NAME|PATH",
                        help="model preset (short name or Hugging Face id) or a config.json path" + _NO_DEFAULT)
    parser.add_argument("--hardware", default=ca.DEFAULT_HARDWARE, metavar="NAME|PATH",
                        help="hardware preset or YAML file")
    parser.add_argument("--tp", default=None, metavar="N",
                        help="tensor-parallel size (PEs on RNGD: 8 = one card); default 1")
    parser.add_argument("--pp", default=None, metavar="N", help="pipeline-parallel stages; default 1")
    parser.add_argument("--dp", default=None, metavar="N",
                        help="data-parallel replicas; the traffic is split evenly over them; default 1")
    ca.add_moe_degree_arguments(parser, default="1")
    parser.add_argument("--mode", default="agg", metavar="agg|disagg",
                        help="agg: every replica prefills and decodes; disagg: a prefill pool and a decode pool")
    for role in ("prefill", "decode"):
        parser.add_argument(f"--{role}-tp", default=None, metavar="N",
                            help=f"--mode disagg: tensor-parallel size of the {role} replicas" + _NO_DEFAULT)
        parser.add_argument(f"--{role}-pp", default="1", metavar="N",
                            help=f"--mode disagg: pipeline-parallel stages of the {role} replicas")
        parser.add_argument(f"--{role}-replicas", default=None, metavar="N",
                            help=f"--mode disagg: {role} replicas" + _NO_DEFAULT)
        parser.add_argument(f"--{role}-ep", default="1", metavar="N",
                            help=f"--mode disagg: expert-parallel degree of the {role} replicas (MoE)")
        parser.add_argument(f"--{role}-adp", default="1", metavar="N",
                            help=f"--mode disagg: attention data-parallel degree of the {role} replicas (MoE)")
    parser.add_argument("--rate", default=None, metavar="R",
                        help="open loop: mean arrival rate, requests/s (all replicas)" + _NO_DEFAULT)
    parser.add_argument("--concurrency", default=None, metavar="C",
                        help="closed loop: clients, each sending its next request when the last finishes"
                             + _NO_DEFAULT)
    parser.add_argument("--arrival", default="poisson", metavar="poisson|gamma",
                        help="open-loop arrival process")
    parser.add_argument("--cv", default=None, metavar="X",
                        help="gamma arrivals: coefficient of variation of the gaps (1 = Poisson)" + _NO_DEFAULT)
    parser.add_argument("--requests", default="1000", metavar="N", help="requests to simulate")
    ca.add_seed_argument(parser)
    ca.add_engine_argument(parser)
    parser.add_argument("--release", default=None, metavar="VERSION",
                        help="engine release of the profile (default: the profile's newest)" + _NO_DEFAULT)
    parser.add_argument("--max-num-seqs", default=None, metavar="N",
                        help="sequences per engine step, as the engine's flag takes it: per attention-DP rank "
                             "under --adp for vLLM and TensorRT-LLM (default: the engine's)" + _NO_DEFAULT)
    parser.add_argument("--max-num-batched-tokens", default=None, metavar="N",
                        help="tokens per engine step, the chunked-prefill budget, as the engine's flag takes it "
                             "(per attention-DP rank as --max-num-seqs; default: the engine's)" + _NO_DEFAULT)
    parser.add_argument("--workload", default=None, metavar="FILE",
                        help="CSV or JSONL of input_len, output_len per request (a sample; with a weight or count "
                             "column, a histogram); with a timestamp_s column, a trace replayed at its times"
                             + _NO_DEFAULT)
    parser.add_argument("--input-len", default="2048", metavar="N", help="prompt tokens per request")
    parser.add_argument("--output-len", default="512", metavar="N", help="generated tokens per request")
    parser.add_argument("--dtype", default=None, metavar="FORMAT",
                        help="weight format (default: the checkpoint's own when the hardware's runtime serves it, "
                             "else bf16, as recommend and plan take it)" + _NO_DEFAULT)
    parser.add_argument("--kv-dtype", default=None, metavar="FORMAT",
                        help="KV-cache format (default: as engines run the weights)" + _NO_DEFAULT)
    parser.add_argument("--ttft-ms", default=None, metavar="MS", help="TTFT SLO of the goodput" + _NO_DEFAULT)
    parser.add_argument("--tpot-ms", default=None, metavar="MS", help="TPOT SLO of the goodput" + _NO_DEFAULT)
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="cost-model parameters (default: the file $AUTOTUNE_PARAMS names, else the shipped, "
                             "fitted ones)" + _NO_DEFAULT)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document" + _NO_DEFAULT)


def run(args: argparse.Namespace) -> int:
    from autotune.serving_api import simulate
    from cost_models.serving.traffic import is_trace_file

    args.batch = "auto"
    workload = ca.workload_from_args(args)
    mode = ca.parse_choice(args.mode, "--mode", ("agg", "disagg"))
    pools = {}
    if mode == "disagg":
        for name, pool_name in (("tp", "tp"), ("pp", "pp"), ("dp", "replicas")):
            if getattr(args, name) is not None:
                raise InputError(source=f"--{name}", value=getattr(args, name),
                                 expected=f"no --{name} with --mode disagg: give --prefill-{pool_name} and "
                                          f"--decode-{pool_name}")
        for role in ("prefill", "decode"):
            for name in ("tp", "replicas"):
                if getattr(args, f"{role}_{name}") is None:
                    raise InputError(source=f"--{role}-{name}", value=None, has_value=False,
                                     expected="a positive integer with --mode disagg")
            pools[role] = tuple(ca.parse_int(getattr(args, f"{role}_{name}"), f"--{role}-{name}", maximum=1_000_000)
                                for name in ("tp", "pp", "replicas", "ep", "adp"))
    else:
        for role in ("prefill", "decode"):
            for name in ("tp", "replicas"):
                if getattr(args, f"{role}_{name}") is not None:
                    raise InputError(source=f"--{role}-{name}", value=getattr(args, f"{role}_{name}"),
                                     expected="--mode disagg (a pool's size has no meaning in aggregated mode)")
            for name in ("ep", "adp"):
                if getattr(args, f"{role}_{name}") != "1":
                    raise InputError(source=f"--{role}-{name}", value=getattr(args, f"{role}_{name}"),
                                     expected=f"--mode disagg (aggregated mode takes --{name})")
    degrees = {name: ca.parse_int(getattr(args, name) or "1", f"--{name}", maximum=1_000_000)
               for name in ("tp", "pp", "dp", "ep", "adp")}
    if mode == "disagg" and (degrees["ep"], degrees["adp"]) != (1, 1):
        flag = "ep" if degrees["ep"] != 1 else "adp"
        raise InputError(source=f"--{flag}", value=degrees[flag],
                         expected=f"1 with --mode disagg: give each pool's --prefill-{flag} and --decode-{flag}")
    trace = args.workload if args.workload is not None and is_trace_file(args.workload) else None
    lengths = args.workload if args.workload is not None and trace is None else None
    result = simulate(
        args.model, args.hardware, workload, **degrees, mode=mode, prefill=pools.get("prefill"),
        decode=pools.get("decode"), engine=args.engine, release=args.release,
        rate=ca.parse_positive_float(args.rate, "--rate"),
        concurrency=ca.parse_optional_int(args.concurrency, "--concurrency"),
        arrival=ca.parse_choice(args.arrival, "--arrival", ("poisson", "gamma")),
        cv=ca.parse_positive_float(args.cv, "--cv"),
        requests=ca.parse_int(args.requests, "--requests", maximum=1_000_000),
        seed=ca.parse_int(args.seed, "--seed", minimum=0, maximum=2**31 - 1),
        max_num_seqs=ca.parse_optional_int(args.max_num_seqs, "--max-num-seqs"),
        max_num_batched_tokens=ca.parse_optional_int(args.max_num_batched_tokens, "--max-num-batched-tokens"),
        lengths_file=lengths, trace_file=trace, params=ca.params_from_args(args))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(render(result))
    return EXIT_OK


def _row(name: str, dist) -> str:
    if dist is None:
        return f"  {name:<16}{'overloaded':>12}"
    return f"  {name:<16}{dist.p50:>12.2f}{dist.p90:>12.2f}{dist.p99:>12.2f}{dist.mean:>12.2f}"


def render(result) -> str:
    """Returns the human report: latency percentiles, rates, KV use and notes."""
    head = f"{result.replicas} replica(s)"
    if result.mode == "disagg":
        head = " + ".join(f"{p.replicas} {p.role} replica(s) (TP {p.tensor_parallel_size}, PP "
                          f"{p.pipeline_parallel_size})" for p in (result.prefill, result.decode))
    lines = [f"{result.engine} {result.release}, {head}, {result.traffic}; "
             f"max_num_seqs {result.max_num_seqs}, max_num_batched_tokens {result.max_num_batched_tokens}",
             f"  {'ms':<16}{'p50':>12}{'p90':>12}{'p99':>12}{'mean':>12}",
             _row("TTFT", result.ttft_ms), _row("TPOT", result.tpot_ms), _row("inter-token", result.itl_ms),
             _row("end-to-end", result.e2e_latency_ms), _row("queueing", result.queueing_ms)]
    if result.mode == "disagg":
        lines.append(_row("KV transfer", result.kv_transfer_ms))
    lines += ["",
             f"  output tokens/s {result.output_tokens_per_s:,.1f}   requests/s {result.requests_per_s:.3f}"
             + ("" if result.goodput_requests_per_s is None
                else f"   goodput {result.goodput_requests_per_s:.3f} requests/s"),
             f"  peak KV cache {result.peak_kv_fraction * 100:.1f}% ({result.peak_kv_tokens:,.0f} tokens)   "
             f"preemptions {result.preemptions}   overloaded {'yes' if result.overloaded else 'no'}"]
    if result.mode == "disagg":
        lines += [f"  {p.role} pool: {p.devices} device(s), busy {p.busy_fraction * 100:.1f}%, peak KV cache "
                  f"{p.peak_kv_fraction * 100:.1f}%, preemptions {p.preemptions}" for p in (result.prefill, result.decode)]
    lines += [f"  note: {note}" for note in result.notes]
    return "\n".join(lines)
