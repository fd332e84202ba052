"""Inputs as given: a spec object, or a preset name / path to load, resolved to the spec once."""
from __future__ import annotations

import os

from autotune.specs.hardware import HardwareSpec
from autotune.specs.model import ModelSpec
from autotune.specs.space import SearchSpace
from autotune.specs.workload import Workload


def load_model(name_or_path: str | os.PathLike) -> ModelSpec:
    """Returns the ModelSpec of a preset name, a Hugging Face id, or a config.json path (or its folder)."""
    from autotune.specs.model_loader import load_model as _load
    return _load(str(name_or_path))


def load_hardware(name_or_path: str | os.PathLike) -> HardwareSpec:
    """Returns the HardwareSpec of a preset name or a YAML path."""
    from autotune.specs.hardware_loader import load_hardware as _load
    return _load(str(name_or_path))


def load_space(name_or_path: str | os.PathLike) -> SearchSpace:
    """Returns the SearchSpace of a preset name or a YAML path."""
    from autotune.specs.space import load_space as _load
    return _load(str(name_or_path))


def as_model(value: ModelSpec | str | os.PathLike) -> ModelSpec:
    return value if isinstance(value, ModelSpec) else load_model(value)


def as_hardware(value: HardwareSpec | str | os.PathLike) -> HardwareSpec:
    return value if isinstance(value, HardwareSpec) else load_hardware(value)


def default_workload(model: ModelSpec, space: SearchSpace) -> Workload:
    """Returns the default workload, in the checkpoint's own formats where the space serves them."""
    from autotune.specs.workload import default_formats

    dtype, kv_dtype = default_formats(model, space.dtypes)
    return Workload(dtype=dtype, kv_dtype=kv_dtype)


def as_space(value: SearchSpace | str | os.PathLike | None, hardware: HardwareSpec,
           release: str | None = None) -> SearchSpace:
    """Returns the space given, else the one covering `release`, else the hardware's default space."""
    from autotune.specs.space import check_space_covers, space_for_release

    if value is None and release is not None:
        return space_for_release(release)
    space = value if isinstance(value, SearchSpace) else load_space(hardware.default_space if value is None else value)
    if release is not None:
        check_space_covers(space, release)
    return space
