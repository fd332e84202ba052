"""The command line: a thin layer that parses flags, calls the API, prints and exits.

Each subcommand lives in `autotune/commands/<name>.py` with two functions:
`add_arguments(parser)` and `run(args) -> int`. Modules are imported only when their
command runs, so that `autotune recommend` does not pay for scipy or matplotlib.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from autotune import __version__
from autotune.errors import EXIT_BAD_INPUT, AutotuneError

#: name -> one-line help, in the order `--help` lists them.
COMMANDS: dict[str, str] = {
    "models": "list model presets, or show one model's derived facts",
    "hardware": "list hardware presets, or show one device's figures and sources",
    "spaces": "list search spaces, or show one runtime release's rules",
    "estimate": "cost one parallel configuration: memory, latency, throughput",
    "recommend": "the provably best configuration for an objective",
    "pareto": "the exact latency/throughput Pareto front",
    "sweep": "the best configuration for each fleet size in devices (or model, dtype, length)",
    "enumerate": "every candidate, feasible or not, with its metrics and violations",
    "simulate": "one configuration under traffic: TTFT/TPOT percentiles, throughput, goodput",
    "plan": "the fewest cards and replicas that serve a request rate within SLO percentiles",
    "calibrate": "fit the cost model's efficiency parameters to measurements",
    "validate": "compare the cost model's predictions with measurements",
    "import-bench": "turn benchmark result files (vLLM, GuideLLM, AIPerf, genai-perf, trtllm-bench) into measurement rows",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """Returns the parser; only the subcommand named in `argv` gets its arguments loaded."""
    parser = _Parser(
        prog="autotune",
        description="Constraint-solving autotuner for LLM inference parallelism "
                    "(FuriosaAI RNGD and GPUs).")
    parser.add_argument("--version", action="version", version=f"autotune {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if a in COMMANDS), None)
    for name, help_text in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".",
                                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        if name == wanted:
            _command_module(name).add_arguments(command_parser)
    return parser


def _command_module(name: str):
    return importlib.import_module(f"autotune.commands.{name.replace('-', '_')}")


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the process exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _command_module(args.command).run(args)
    except AutotuneError as exc:
        print(f"autotune {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("autotune: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
