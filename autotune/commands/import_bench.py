"""`autotune import-bench`: benchmark result files as rows of our measurement columns.

Reads `vllm bench serve --save-result` JSON (furiosa-perf, FuriosaAI's harness, writes the same),
GuideLLM reports, AIPerf and genai-perf profile exports and trtllm-bench JSON reports (the format is
detected; `--format` forces it), and writes one CSV row per measured load point with the columns of
cost_models/data/calibration.csv, ready for `autotune validate` and `autotune calibrate`. What the
files do not state comes from the flags; a flag that contradicts a file is refused (exit 2, naming
both). Load points no load type describes are listed on stderr and left out.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autotune.errors import EXIT_OK, InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from cost_models.bench_import import FORMATS

    parser.add_argument("files", nargs="+", metavar="FILE", help="benchmark result files (JSON)")
    parser.add_argument("-o", "--output", required=True, metavar="OUT.csv",
                        help="the measurement CSV to write (never one of the FILEs)")
    parser.add_argument("--format", default=None, choices=tuple(FORMATS),
                        help="the tool that wrote every FILE (default: detected per file)")
    facts = parser.add_argument_group("what the files do not state (a flag that contradicts a file is refused)")
    facts.add_argument("--hardware", required=True, metavar="NAME", help="the hardware preset the runs used")
    facts.add_argument("--model", default=None, metavar="ORG/NAME",
                       help="the model the runs served (default: the one the file names)")
    facts.add_argument("--base-model", default=None, metavar="ORG/NAME",
                       help="price the served model as this architecture (a quantized or vendor build of it, e.g. "
                            "furiosa-ai/Qwen3-4B-FP8 as Qwen/Qwen3-4B); the served name stays in the 'model' column")
    facts.add_argument("--tp", default=None, metavar="N", help="tensor-parallel degree (RNGD: in PEs, 8 per card)")
    facts.add_argument("--pp", default=None, metavar="N", help="pipeline-parallel degree (default 1)")
    facts.add_argument("--dp", default=None, metavar="N", help="data-parallel replicas (default 1)")
    facts.add_argument("--ep", default=None, metavar="N", help="expert-parallel degree (default: none)")
    facts.add_argument("--dtype", default=None, metavar="DTYPE", help="weight format: bf16, fp16, fp8, int8, int4, fp4")
    facts.add_argument("--kv-dtype", default=None, metavar="DTYPE", help="KV-cache format (default: the weights')")
    facts.add_argument("--engine", default=None, metavar="TEXT",
                       help="serving engine and version, e.g. 'vLLM 0.11.0' or 'furiosa-llm 2026.3.0'")
    facts.add_argument("--concurrency", default=None, metavar="N",
                       help="requests kept in flight, for a file that does not state its load")
    facts.add_argument("--request-rate", default=None, metavar="R",
                       help="Poisson arrivals (requests/s), for a file that does not state its load")
    facts.add_argument("--input-len", default=None, metavar="N",
                       help="the fixed prompt length the runs used, when the file gives only a mean")
    facts.add_argument("--output-len", default=None, metavar="N",
                       help="the fixed output length the runs used, when the file gives only a mean")


def run(args: argparse.Namespace) -> int:
    from autotune import api
    from autotune.commands import common_args as ca

    output = Path(args.output)
    for file in args.files:
        if Path(file).resolve() == output.resolve():
            raise InputError(source="-o", value=args.output, expected=f"a file other than the result file {file}")
    if output.is_dir():
        raise InputError(source="-o", value=args.output, expected="a file path, not a directory")
    integers = {name: ca.parse_optional_int(getattr(args, name), f"--{name.replace('_', '-')}")
                for name in ("tp", "pp", "dp", "ep", "concurrency", "input_len", "output_len")}
    result = api.import_bench(
        args.files, hardware=args.hardware, model=args.model, base_model=args.base_model,
        dtype=ca.parse_dtype(args.dtype, "--dtype"), kv_dtype=ca.parse_dtype(args.kv_dtype, "--kv-dtype"),
        engine=args.engine, request_rate=ca.parse_positive_float(args.request_rate, "--request-rate"),
        format=args.format, output=output, **integers)
    for point in result.skipped:
        where = f"{point.source} ({point.part})" if point.part else point.source
        print(f"skipped {where}: {point.reason}", file=sys.stderr)
    formats = ", ".join(sorted({f for _, f in result.formats}))
    print(f"imported {len(result.rows)} rows from {len(result.formats)} files ({formats}); wrote {output}",
          file=sys.stderr)
    return EXIT_OK
