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
    ca.add_input_arguments(parser,
                           cards_help="devices the configuration runs on (RNGD cards or GPUs); "
                                      "default: the fewest that hold TP x PP x DP")
    parser.add_argument("--tp", default="1", metavar="N", help="tensor-parallel size (PEs on RNGD: 8 = one card)")
    parser.add_argument("--pp", default="1", metavar="N", help="pipeline-parallel stages")
    parser.add_argument("--dp", default="1", metavar="N", help="data-parallel replicas")
    ca.add_moe_degree_arguments(parser, default="1")
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="cost-model parameters; omitted: the file $AUTOTUNE_PARAMS names, else the "
                             "shipped, fitted ones")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document")
    out.add_output_arguments(parser, emit=True)


def run(args: argparse.Namespace) -> int:
    from autotune import api
    from cost_models.params import calibration_for

    out.check_output_arguments(args)
    workload = ca.workload_from_args(args)
    degrees = {name: ca.parse_int(getattr(args, name), f"--{name}", maximum=1_000_000)
               for name in ("tp", "pp", "dp", "ep", "adp")}
    model, hardware = api.load_model(args.model), api.load_hardware(args.hardware)
    space = api.load_space(args.space or hardware.default_space)
    result = api.estimate(model, hardware, workload, space=space, cards=ca.cards_from_args(args),
                          params=ca.params_from_args(args), **degrees)
    settings = _settings(args, result, model=model, workload=workload, space=space, hardware=hardware)
    calibration = calibration_for(hardware.name, ca.params_path_from_args(args))
    if args.json:
        doc = out.with_settings(result.to_dict(), settings, args.emit)
        doc["assumptions"] = {"calibration": calibration.to_dict()}
        print(json.dumps(doc, indent=2))
    else:
        print(render(result, model_name=model.name, hardware_name=hardware.name, workload=workload,
                     device_name=hardware.device_name))
        if not calibration.hardware_fitted:
            print(textwrap.fill(f"calibration: {calibration.note}", width=100, subsequent_indent="  "))
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
    from autotune.outputs.emit import emit
    from autotune.parallel_plan import ParallelPlan

    plan = ParallelPlan(tensor_parallel_size=result.tp, pipeline_parallel_size=result.pp,
                        data_parallel_size=result.dp, batch_size=result.batch_size,
                        cards_used=result.devices_used, pes_used=result.tp * result.pp * result.dp,
                        **({"expert_parallel_size": result.ep, "attention_data_parallel_size": result.adp}
                           if result.moe or result.ep != 1 or result.adp != 1 else {}))
    return emit(args.emit, plan=plan, model=model, workload=workload, space=space, release=args.release,
                hardware=hardware)


def render(result, *, model_name: str, hardware_name: str, workload, device_name: str = "device") -> str:
    """Returns the human report: layout, memory breakdown per device, times, throughput, violations."""
    gb = 1e9
    mem = result.memory_per_device_bytes
    lines = [
        f"{model_name} on {result.cards} x {hardware_name} ({result.space}): "
        f"TP {result.tp} x PP {result.pp} x DP {result.dp}"
        + (f" (EP {result.ep}, attention DP {result.adp})" if result.moe or result.ep != 1 or result.adp != 1 else ""),
        f"batch {result.batch_size} per replica "
        + (f"(the largest within every limit: {result.largest_feasible_batch})" if result.largest_feasible_batch
           else "(no batch meets every limit; figures at this batch)"),
        f"workload: {workload.input_len} input + {workload.output_len} output tokens, {workload.dtype} weights, "
        f"{workload.cache_dtype} KV cache",
        "",
        f"{'memory per ' + device_name:<24}{'GB':>10}",
    ]
    for key in ("weights", "kv_cache", "activations", "reserved", "total", "capacity"):
        lines.append(f"  {key:<22}{mem[key] / gb:>10.2f}")
    lines += [
        "",
        f"{'TTFT':<24}{result.ttft_ms:>12.2f} ms",
        f"{'TPOT':<24}{result.tpot_ms:>12.3f} ms",
        f"{'end-to-end latency':<24}{result.e2e_latency_ms / 1e3:>12.3f} s",
        f"{'throughput (output)':<24}{result.throughput_tokens_per_s:>12.1f} tokens/s over {result.devices_used} "
        f"{device_name}{'' if result.devices_used == 1 else 's'} ({result.throughput_tokens_per_s_per_device:.1f} "
        f"per {device_name})",
        f"{'requests':<24}{result.requests_per_s:>12.3f} per s",
        "",
        "feasible" if result.feasible else "INFEASIBLE:",
    ]
    for violation in result.violations:
        lines += textwrap.wrap(violation, width=100, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(lines)
