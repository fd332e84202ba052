"""Shared input flags: every bad value is one InputError naming the flag."""
from __future__ import annotations

import argparse

import pytest

from autotune.commands import common_args as ca
from autotune.errors import InputError


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    ca.add_input_arguments(parser)
    ca.add_degree_arguments(parser)
    ca.add_solver_arguments(parser)
    return parser.parse_args(["--model", "m", *argv])


def test_defaults_make_the_default_workload():
    workload = ca.workload_from_args(_args())
    assert (workload.input_len, workload.output_len, workload.batch, workload.dtype) == (2048, 512, "auto", "bf16")
    assert ca.cards_from_args(_args()) is None


def test_devices_is_a_synonym_of_cards():
    assert ca.cards_from_args(_args("--devices", "16")) == 16


@pytest.mark.parametrize("argv, flag", [
    (("--input-len", "0"), "--input-len"), (("--batch", "many"), "--batch"), (("--tpot-ms", "-1"), "--tpot-ms"),
    (("--ttft-ms", "inf"), "--ttft-ms"), (("--dtype", "fp12"), "--dtype"), (("--kv-dtype", "x"), "--kv-dtype"),
])
def test_bad_workload_flags(argv, flag):
    with pytest.raises(InputError, match=flag):
        ca.workload_from_args(_args(*argv))


def test_bad_degrees_and_time_limit():
    with pytest.raises(InputError, match="--tp"):
        ca.degrees_from_args(_args("--tp", "0"))
    with pytest.raises(InputError, match="--time-limit"):
        ca.time_limit_from_args(_args("--time-limit", "soon"))
    assert ca.degrees_from_args(_args("--pp", "2")) == {"tp": None, "pp": 2, "dp": None}
