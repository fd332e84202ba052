"""`autotune estimate`: memory, latency and throughput of one parallel configuration, and its broken limits.

Exit 0 when the configuration is feasible, 1 when it breaks a rule, memory or an SLO (the
figures are printed either way), 2 for bad input.
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap

from autotune.commands import common_args as ca
from autotune.commands import output_args as out
from autotune.errors import EXIT_INFEASIBLE, EXIT_OK


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ca.add_input_arguments(parser, batch_words=("max",),
                           cards_help="devices the configuration runs on (RNGD cards or GPUs); "
                                      "default: the fewest that hold TP x PP x DP")
    parser.add_argument("--tp", default="1", metavar="N", help="tensor-parallel size (PEs on RNGD: 8 = one card)")
    parser.add_argument("--pp", default="1", metavar="N", help="pipeline-parallel stages")
    parser.add_argument("--dp", default="1", metavar="N", help="data-parallel replicas")
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="cost-model parameters; omitted: the shipped, fitted ones")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")
    out.add_output_arguments(parser, emit=True)


def run(args: argparse.Namespace) -> int:
    from autotune.specs.hardware_loader import load_hardware
    from autotune.specs.model_loader import load_model
    from autotune.specs.space import load_space
    from cost_models.estimate import estimate
    from cost_models.params import load_params

    out.check_output_arguments(args)
    batch = ca.parse_batch(args.batch, words=("max",))
    args.batch = "auto" if batch == "max" else str(batch)
    workload = ca.workload_from_args(args)
    degrees = {name: ca.parse_int(getattr(args, name), f"--{name}", maximum=1_000_000) for name in ("tp", "pp", "dp")}
    model = load_model(args.model)
    hardware = load_hardware(args.hardware)
    space = load_space(args.space or hardware.default_space)
    params = load_params(args.params)
    result = estimate(model, hardware, workload, space=space, cards=ca.cards_from_args(args),
                      batch=batch, params=params, **degrees)
    settings = _settings(args, result, model=model, workload=workload, space=space, hardware=hardware)
    if args.json:
        print(json.dumps(out.with_settings(result.to_dict(), settings, args.emit), indent=2))
    else:
        print(render(result, model_name=model.name, hardware_name=hardware.name, workload=workload))
        if settings is not None:
            print(out.settings_block(f"{args.emit} settings", settings))
    if result.feasible:
        return EXIT_OK
    print(f"autotune estimate: infeasible: {result.violations[0]}", file=sys.stderr)
    return EXIT_INFEASIBLE


def _settings(args: argparse.Namespace, result, *, model, workload, space, hardware) -> str | None:
    """Returns the --emit text for a feasible configuration; None without --emit or when infeasible."""
    if args.emit is None or not result.feasible:
        return None
    from autotune.emit import emit
    from autotune.plan import ParallelPlan

    plan = ParallelPlan(tensor_parallel_size=result.tp, pipeline_parallel_size=result.pp,
                        data_parallel_size=result.dp, batch_size=result.batch_size,
                        cards_used=result.devices_used, pes_used=result.tp * result.pp * result.dp)
    return emit(args.emit, plan=plan, model=model, workload=workload, space=space, release=args.release,
                hardware=hardware)


def render(result, *, model_name: str, hardware_name: str, workload) -> str:
    """Returns the human report: layout, memory breakdown per device, times, throughput, violations."""
    gb = 1e9
    mem = result.memory_per_device_bytes
    lines = [
        f"{model_name} on {result.cards} x {hardware_name} ({result.space}): "
        f"TP {result.tp} x PP {result.pp} x DP {result.dp}, batch {result.batch_size} per replica "
        f"(max {result.max_batch})",
        f"workload: {workload.input_len} input + {workload.output_len} output tokens, {workload.dtype} weights, "
        f"{workload.cache_dtype} KV cache",
        "",
        f"{'memory per device':<24}{'GB':>10}",
    ]
    for key in ("weights", "kv_cache", "activations", "reserved", "total", "capacity"):
        lines.append(f"  {key:<22}{mem[key] / gb:>10.2f}")
    lines += [
        "",
        f"{'TTFT':<24}{result.ttft_ms:>12.2f} ms",
        f"{'TPOT':<24}{result.tpot_ms:>12.3f} ms",
        f"{'end-to-end latency':<24}{result.e2e_latency_ms / 1e3:>12.3f} s",
        f"{'throughput (output)':<24}{result.throughput_tokens_per_s:>12.1f} tokens/s over {result.devices_used} "
        f"devices ({result.throughput_tokens_per_s_per_device:.1f} per device)",
        f"{'requests':<24}{result.requests_per_s:>12.3f} per s",
        "",
        "feasible" if result.feasible else "INFEASIBLE:",
    ]
    for violation in result.violations:
        lines += textwrap.wrap(violation, width=100, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines)
