"""Input flags shared by estimate, recommend, pareto, sweep and enumerate, and their validation.

Numbers are taken as text and checked here (not by argparse `type=`), so that a bad value is
one `InputError` line naming the flag, the value and what was expected, like every other error.
"""
from __future__ import annotations

import argparse
import math
import os
from typing import Any

from autotune.errors import InputError
from autotune.specs.dtypes import USER_DTYPES
from autotune.specs.workload import AUTO, Workload

DEFAULT_HARDWARE = "rngd"
#: Appended to help texts that state their default in words: it prints nothing, and its presence stops
#: ArgumentDefaultsHelpFormatter from adding "(default: None)".
NO_AUTO_DEFAULT = "%(default).0s"
OBJECTIVE_CHOICES = ("throughput", "latency", "ttft", "e2e")
#: Objectives under traffic (--rate/--concurrency): goodput as well.
LOAD_OBJECTIVE_CHOICES = OBJECTIVE_CHOICES + ("goodput",)


#: What each --batch word means, for --help.
_BATCH_WORD_HELP = {
    AUTO: f"sequences per replica; '{AUTO}' makes it a decision over every integer from 1 to the largest batch "
          "that meets memory, the runtime's decode buckets and the SLOs",
}


def add_input_arguments(parser: argparse.ArgumentParser, *, batch_words: tuple[str, ...] = (AUTO,),
                        cards_help: str | None = None) -> None:
    """Adds --model, --hardware, --cards/--devices, --space, lengths, --batch, dtypes and SLO flags."""
    words = "|".join(batch_words)
    parser.add_argument("--model", required=True, metavar="NAME|PATH",
                        help="model preset (short name or Hugging Face id) or a config.json path" + NO_AUTO_DEFAULT)
    parser.add_argument("--hardware", default=DEFAULT_HARDWARE, metavar="NAME|PATH",
                        help="hardware preset or YAML file")
    parser.add_argument("--cards", "--devices", dest="cards", default=None, metavar="N",
                        help=(cards_help or "devices in the fleet: RNGD cards (--devices is the synonym for GPUs); "
                                            "default: one machine of the hardware (its devices_per_node)")
                        + NO_AUTO_DEFAULT)
    parser.add_argument("--space", default=None, metavar="NAME|PATH",
                        help="search space (runtime release rules); default: the hardware's default space"
                             + NO_AUTO_DEFAULT)
    parser.add_argument("--input-len", default="2048", metavar="N", help="prompt tokens per request")
    parser.add_argument("--output-len", default="512", metavar="N", help="generated tokens per request")
    parser.add_argument("--batch", default=batch_words[0], metavar=f"N|{words}",
                        help=_BATCH_WORD_HELP.get(batch_words[0], "sequences per replica"))
    parser.add_argument("--dtype", default=None, metavar="|".join(USER_DTYPES),
                        help="weight format (default: the checkpoint's own, from its config.json quantization_config, "
                             "when the runtime serves it; else bf16)" + NO_AUTO_DEFAULT)
    parser.add_argument("--kv-dtype", default=None, metavar="|".join(USER_DTYPES),
                        help="KV-cache format (default: as engines run the weights: bf16 for int8/int4, fp8 for fp4, "
                             "else the weights' format)" + NO_AUTO_DEFAULT)
    parser.add_argument("--ttft-ms", default=None, metavar="MS", help="time-to-first-token SLO (default: none)" + NO_AUTO_DEFAULT)
    parser.add_argument("--tpot-ms", default=None, metavar="MS", help="time-per-output-token SLO (default: none)" + NO_AUTO_DEFAULT)


def add_solver_arguments(parser: argparse.ArgumentParser, *, top: bool = True, objective: bool = True) -> None:
    """Adds --objective, --top, --time-limit and --json."""
    if objective:
        parser.add_argument("--objective", default="throughput", metavar="|".join(OBJECTIVE_CHOICES),
                            help="throughput: max output tokens/s over all replicas (ties: fewer cards, then lower "
                                 "TPOT); latency: min TPOT; ttft: min time to first token; e2e: min request latency "
                                 "(ties: fewer cards). With --batch auto the batch is chosen too, so latency, ttft "
                                 "and e2e usually pick batch 1; give --batch N to minimise them at that batch. "
                                 "Under --rate/--concurrency the latencies are the --slo-percentile of the simulated "
                                 "requests, and goodput (requests/s within every SLO, per card) is an objective too")
    if top:
        parser.add_argument("--top", default="1", metavar="K", help="how many best distinct configurations")
    parser.add_argument("--params", default=None, metavar="FILE.yaml",
                        help="cost-model parameters (default: the file $AUTOTUNE_PARAMS names, else the shipped, "
                             "fitted ones)" + NO_AUTO_DEFAULT)
    parser.add_argument("--time-limit", default=None, metavar="S",
                        help="CP-SAT wall-time budget in seconds (default: none; solve to proven optimum)"
                             + NO_AUTO_DEFAULT)
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document" + NO_AUTO_DEFAULT)


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the traffic flags of recommend, pareto and sweep: --rate/--concurrency and how to simulate them."""
    group = parser.add_argument_group("under traffic (the serving simulator judges every layout and max_num_seqs)")
    group.add_argument("--rate", default=None, metavar="R",
                       help="Poisson arrivals, requests/s over all replicas" + NO_AUTO_DEFAULT)
    group.add_argument("--concurrency", default=None, metavar="C",
                       help="closed loop of C clients, each sending its next request when the last finishes"
                            + NO_AUTO_DEFAULT)
    group.add_argument("--slo-percentile", default="90", metavar="50|90|99",
                       help="the percentile of TTFT and TPOT that --ttft-ms and --tpot-ms bound")
    group.add_argument("--workload", default=None, metavar="FILE",
                       help="CSV or JSONL of input_len, output_len per request (a sample; with a weight or count "
                            "column, a histogram), instead of --input-len/--output-len" + NO_AUTO_DEFAULT)
    add_engine_argument(group, default_words="the engine --emit writes for, else furiosa-llm on RNGD and vllm on "
                                             "GPUs")
    group.add_argument("--requests", default="600", metavar="N", help="requests per simulated replica")
    add_seed_argument(group)


def add_engine_argument(target, *, default_words: str = "furiosa-llm on RNGD, vllm on GPUs") -> None:
    """Adds --engine (the scheduler profile a simulation runs) to a parser or argument group."""
    target.add_argument("--engine", default=None, metavar="NAME",
                        help=f"engine profile: vllm, sglang, tensorrt-llm, furiosa-llm (default: {default_words})"
                             + NO_AUTO_DEFAULT)


def add_seed_argument(target) -> None:
    """Adds --seed (of the simulated arrivals and length draws) to a parser or argument group."""
    target.add_argument("--seed", default="0", metavar="N", help="seed of the arrivals and length draws")


def engine_from_args(args: argparse.Namespace) -> str | None:
    """Returns the engine to simulate: --engine, else the engine --emit writes for (None: the hardware's default);
    InputError when they differ (the settings would be tuned on another engine's scheduler)."""
    from cost_models.serving.engines import ENGINE_OF_EMIT_FORMAT, engine_name  # not at start-up: cost_models

    # The engine profile each --emit format's settings are for: the simulation must run that engine's scheduler.
    emitted = ENGINE_OF_EMIT_FORMAT.get(getattr(args, "emit", None) or "")
    if args.engine is not None and emitted is not None and engine_name(args.engine) != emitted:
        raise InputError(source="--engine", value=args.engine,
                         expected=f"{emitted} with --emit {args.emit} (the emitted limits are searched on the "
                                  f"engine that runs them), or no --engine")
    return args.engine or emitted


def add_mode_argument(parser: argparse.ArgumentParser) -> None:
    """Adds --mode agg|disagg|both: aggregated serving, disaggregated prefill/decode pools, or both compared."""
    parser.add_argument("--mode", default=None, metavar="agg|disagg|both",
                        help="with --rate: agg (every replica prefills and decodes), disagg (a prefill pool and a "
                             "decode pool, the KV cache moved between them) or both (compared on the same devices "
                             "and SLOs); default: both where the engine runs disaggregation (vLLM, SGLang, "
                             "TensorRT-LLM, Furiosa LLM 2026.4 at PP 1) and the objective is throughput or goodput, "
                             "else agg" + NO_AUTO_DEFAULT)


def load_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Returns the traffic keywords of `api.recommend` from the flags (all None/defaults without traffic)."""
    return {"rate": parse_positive_float(args.rate, "--rate"),
            "concurrency": parse_optional_int(args.concurrency, "--concurrency", maximum=1_000_000),
            "lengths_file": args.workload,
            "slo_percentile": parse_int(args.slo_percentile, "--slo-percentile", maximum=99),
            "engine": engine_from_args(args), "requests": parse_int(args.requests, "--requests", maximum=100_000),
            "seed": parse_int(args.seed, "--seed", minimum=0, maximum=2**31 - 1)}


def under_load(args: argparse.Namespace) -> bool:
    """Returns whether the command runs under traffic (--rate or --concurrency given); InputError for a traffic
    flag given without either, or the goodput objective without traffic."""
    loaded = args.rate is not None or args.concurrency is not None
    if not loaded:
        for flag, value, default in (("--workload", args.workload, None), ("--engine", args.engine, None),
                                     ("--slo-percentile", args.slo_percentile, "90"),
                                     ("--requests", args.requests, "600"), ("--seed", args.seed, "0")):
            if value != default:
                raise InputError(source=flag, value=value, expected="--rate or --concurrency with it (a setting of "
                                                                    "the serving simulation)")
        if getattr(args, "objective", None) == "goodput":
            raise InputError(source="--objective", value="goodput",
                             expected="--rate or --concurrency with it (goodput is measured under traffic)")
    return loaded


def add_degree_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds optional --tp, --pp, --dp, --ep, --adp that pin degrees (the rest is searched)."""
    parser.add_argument("--tp", default=None, metavar="N",
                        help="pin the tensor-parallel size (PEs on RNGD: 8 = one card); default: searched"
                             + NO_AUTO_DEFAULT)
    parser.add_argument("--pp", default=None, metavar="N", help="pin the pipeline-parallel size; default: searched" + NO_AUTO_DEFAULT)
    parser.add_argument("--dp", default=None, metavar="N", help="pin the data-parallel size; default: searched" + NO_AUTO_DEFAULT)
    add_moe_degree_arguments(parser, default=None)


def add_moe_degree_arguments(parser: argparse.ArgumentParser, *, default: str | None) -> None:
    """Adds --ep and --adp: the expert-parallel and attention data-parallel degrees of a mixture-of-experts model."""
    pinned = "pin " if default is None else ""
    searched = "; default: searched" + NO_AUTO_DEFAULT if default is None else ""
    parser.add_argument("--ep", default=default, metavar="N",
                        help=f"{pinned}the expert-parallel degree of an MoE model: the TP units of a stage split "
                             f"into EP groups each holding whole experts (MoE TP = TP / EP){searched}")
    parser.add_argument("--adp", default=default, metavar="N",
                        help=f"{pinned}the attention data-parallel degree of an MoE model: attention and its KV "
                             f"cache split by request over ADP groups (attention TP = TP / ADP){searched}")


def add_fan_out_arguments(parser: argparse.ArgumentParser, *, what: str) -> None:
    """Adds --jobs N and --ray [ADDRESS]: run the independent `what` in processes or on a Ray cluster."""
    parser.add_argument("--jobs", default="1", metavar="N", help=f"{what} in N processes (the answer is the serial one)")
    parser.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                        help=f"{what} as Ray tasks: alone, on a Ray started here (with --jobs N: N CPUs); 'auto': "
                             "the cluster running on this machine; or a cluster's host:port. Needs the extra: "
                             'pip install ".[ray]"' + NO_AUTO_DEFAULT)


def fan_out_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Returns {'jobs', 'ray_address'} of --jobs and --ray, checked (Ray installed when --ray is given)."""
    from autotune.solver.fanout import MAX_JOBS, check_fan_out

    jobs = parse_int(args.jobs, "--jobs", maximum=MAX_JOBS)
    check_fan_out(jobs=jobs, ray_address=args.ray)
    return {"jobs": jobs, "ray_address": args.ray}


def parse_int(value: Any, flag: str, *, minimum: int = 1, maximum: int = 10_000_000) -> int:
    """Returns `value` (flag text) as an int in [minimum, maximum], or raises InputError naming `flag`."""
    expected = f"an integer in [{minimum}, {maximum}]"
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InputError(source=flag, value=value, expected=expected) from None
    if not minimum <= number <= maximum:
        raise InputError(source=flag, value=value, expected=expected)
    return number


def parse_optional_int(value: Any, flag: str, **bounds: int) -> int | None:
    """Returns None for None, else `parse_int`."""
    return None if value is None else parse_int(value, flag, **bounds)


def parse_positive_float(value: Any, flag: str) -> float | None:
    """Returns `value` as a finite float > 0 (None stays None), or raises InputError naming `flag`."""
    if value is None:
        return None
    expected = "a finite number > 0"
    try:
        number = float(str(value).strip())
    except ValueError:
        raise InputError(source=flag, value=value, expected=expected) from None
    if not math.isfinite(number) or number <= 0:
        raise InputError(source=flag, value=value, expected=expected)
    return number


def parse_batch(value: Any, *, words: tuple[str, ...] = (AUTO,)) -> int | str:
    """Returns the batch flag as an int, or one of `words` ('auto')."""
    text = str(value).strip().lower()
    if text in words:
        return text
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1 or number > 1_000_000:
        raise InputError(source="--batch", value=value,
                         expected="an integer in [1, 1000000] or " + " or ".join(repr(w) for w in words))
    return number


def parse_dtype(value: Any, flag: str) -> str | None:
    """Returns the dtype flag, checked against the formats the tool knows."""
    if value is None:
        return None
    if value not in USER_DTYPES:
        raise InputError(source=flag, value=value, expected="one of " + ", ".join(USER_DTYPES))
    return value


def parse_choice(value: Any, flag: str, choices: tuple[str, ...]) -> str:
    """Returns `value` if it is one of `choices`, else raises InputError naming `flag`."""
    if value not in choices:
        raise InputError(source=flag, value=value, expected="one of " + ", ".join(choices))
    return value


def workload_from_args(args: argparse.Namespace, *, batch_words: tuple[str, ...] = (AUTO,)) -> Workload:
    """Returns the Workload the input flags describe (formats not given: the checkpoint's, see `formats_from_args`)."""
    dtype, kv_dtype = formats_from_args(args)
    return Workload(
        input_len=parse_int(args.input_len, "--input-len"),
        output_len=parse_int(args.output_len, "--output-len"),
        batch=parse_batch(args.batch, words=batch_words),
        ttft_ms=parse_positive_float(args.ttft_ms, "--ttft-ms"),
        tpot_ms=parse_positive_float(args.tpot_ms, "--tpot-ms"),
        dtype=dtype,
        kv_dtype=kv_dtype,
        source="flags",
    )


def formats_from_args(args: argparse.Namespace) -> tuple[str, str | None]:
    """Returns (--dtype, --kv-dtype); without --dtype, the model's checkpoint formats (`default_formats`).

    The model is --model (or sweep's --models: their common checkpoint formats, bf16 when they differ,
    since one workload serves them all) and the runtime the one --space, --release or the hardware's
    default space names.
    """
    dtype = parse_dtype(args.dtype, "--dtype")
    kv_dtype = parse_dtype(args.kv_dtype, "--kv-dtype")
    if dtype is not None:
        return dtype, kv_dtype
    models = getattr(args, "models", None)
    names = [n.strip() for n in str(models).split(",") if n.strip()] if models else []
    names = names or ([args.model] if getattr(args, "model", None) else [])
    if not names:
        return "bf16", kv_dtype
    from autotune.specs.hardware_loader import load_hardware
    from autotune.specs.model_loader import load_model
    from autotune.specs.space import load_space
    from autotune.specs.workload import default_formats

    space = load_space(getattr(args, "space", None) or load_hardware(args.hardware).default_space)
    formats = {default_formats(load_model(name), space.dtypes) for name in names}
    dtype, checkpoint_kv = formats.pop() if len(formats) == 1 else ("bf16", None)
    return dtype, kv_dtype or checkpoint_kv


def cards_from_args(args: argparse.Namespace) -> int | None:
    """Returns --cards/--devices as an int, or None when not given (the API picks one machine)."""
    return parse_optional_int(args.cards, "--cards", maximum=100_000)


def degrees_from_args(args: argparse.Namespace) -> dict[str, int | None]:
    """Returns the pinned degrees {'tp', 'pp', 'dp', 'ep', 'adp'} (None where not given)."""
    return {name: parse_optional_int(getattr(args, name, None), f"--{name}", maximum=1_000_000)
            for name in ("tp", "pp", "dp", "ep", "adp")}


#: The environment variable naming the parameter file every command uses when --params is not given
#: (a user's own fit, `autotune calibrate --hardware H -o FILE`); unset: the shipped parameters.
PARAMS_ENV = "AUTOTUNE_PARAMS"


def params_path_from_args(args: argparse.Namespace) -> str | None:
    """Returns the parameter file a command uses: --params, else $AUTOTUNE_PARAMS, else None (the shipped one)."""
    path = getattr(args, "params", None)
    if path is not None:
        return path
    path = os.environ.get(PARAMS_ENV, "").strip()
    if not path:
        return None
    if not os.path.isfile(path):
        raise InputError(source=PARAMS_ENV, value=path,
                         expected="an existing parameter file (unset the variable to use the shipped parameters)")
    return path


def params_from_args(args: argparse.Namespace):
    """Returns the cost-model parameters of --params (or $AUTOTUNE_PARAMS), or None for the shipped ones."""
    path = params_path_from_args(args)
    if path is None:
        return None
    from cost_models import load_params
    return load_params(path)


def time_limit_from_args(args: argparse.Namespace) -> float | None:
    """Returns --time-limit in seconds, or None."""
    return parse_positive_float(args.time_limit, "--time-limit")
