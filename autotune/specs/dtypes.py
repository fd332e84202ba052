"""Bytes per element of each numeric format the tool knows.

int4 and fp4 pack two values per byte; their scales (one per group of 16-128 values) are
not counted here.
"""
from __future__ import annotations

from autotune.errors import InputError

BYTES_PER_ELEMENT: dict[str, float] = {
    "fp32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
    "fp4": 0.5,
}

#: Formats a user can choose for weights or the KV cache.
USER_DTYPES: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8", "int4", "fp4")


def bytes_per_element(dtype: str, *, source: str = "dtype") -> float:
    """Returns the bytes one element of `dtype` takes."""
    try:
        return BYTES_PER_ELEMENT[dtype]
    except KeyError:
        raise InputError(source=source, value=dtype, expected="one of " + ", ".join(USER_DTYPES)) from None
