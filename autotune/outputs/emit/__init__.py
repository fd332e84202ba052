"""Builder and engine settings for a plan (`--emit`): Furiosa LLM per release, vLLM, SGLang, TRT-LLM, YAML, JSON.

`emit(fmt, plan=..., model=..., workload=...)` returns text to paste into the next step. The Furiosa
release comes from `release` (`--release 2025.3`), else from the search space (its `release` field,
or a name like `furiosa-2025.3`), else the newest release, which the output then says it assumed.
"""
from __future__ import annotations

from autotune.outputs.emit.devices import cards_needed, device_mesh, device_strings, machine_meshes
from autotune.outputs.emit.furiosa import FuriosaSettings, furiosa_settings, render_furiosa
from autotune.outputs.emit.furiosa_releases import NEWEST_RELEASE, RELEASES, FuriosaRelease, resolve_release
from autotune.outputs.emit.gpu import render_gpu
from autotune.outputs.emit.structured import plan_document, render_json, render_yaml
from autotune.errors import InputError
from autotune.parallel_plan import ParallelPlan
from autotune.specs.model import ModelSpec
from autotune.specs.workload import Workload

#: Every `--emit` value, in the order `--help` lists them.
FORMATS: tuple[str, ...] = ("furiosa", "vllm", "sglang", "trtllm", "yaml", "json")
GPU_FORMATS: tuple[str, ...] = ("vllm", "sglang", "trtllm")

__all__ = ["FORMATS", "RELEASES", "FuriosaSettings", "cards_needed", "device_mesh", "device_strings", "emit",
           "furiosa_for", "machine_meshes", "release_for"]


def release_for(*, space: object = None, release: str | None = None) -> tuple[FuriosaRelease, str | None]:
    """Returns the Furiosa release to emit for, and a note when it was assumed rather than given."""
    if release is not None:
        return resolve_release(release, source="--release"), None
    space_release = getattr(space, "release", None)
    if space_release:
        return resolve_release(str(space_release), source=f"space {_space_name(space)}"), None
    name = _space_name(space)
    if name and name.startswith("furiosa-"):
        return resolve_release(name, source="space"), None
    return RELEASES[NEWEST_RELEASE], (f"release {NEWEST_RELEASE} assumed (the newest): "
                                      f"pass --release to choose another")


def furiosa_for(*, plan: ParallelPlan, model: ModelSpec, workload: Workload, space: object = None,
                release: str | None = None, hardware: object = None) -> FuriosaSettings:
    """Returns the structured Furiosa settings (build, builder call, serve, load) of a plan."""
    chosen, _ = release_for(space=space, release=release)
    return furiosa_settings(release=chosen, plan=plan, model=model, workload=workload, hardware=hardware)


def emit(fmt: str, *, plan: ParallelPlan, model: ModelSpec, workload: Workload, space: object = None,
         release: str | None = None, hardware: object = None) -> str:
    """Returns the settings of `plan` in format `fmt` (one of FORMATS) as text ending in a newline."""
    if fmt not in FORMATS:
        raise InputError(source="--emit", value=fmt, expected="one of " + ", ".join(FORMATS))
    runtime = _runtime(space, hardware)
    if fmt == "furiosa":
        if runtime == "gpu":
            raise InputError(source="--emit", value=fmt,
                             expected="a GPU format (vllm, sglang, trtllm, yaml, json) for a GPU plan")
        chosen, note = release_for(space=space, release=release)
        settings = furiosa_settings(release=chosen, plan=plan, model=model, workload=workload, hardware=hardware)
        return render_furiosa(settings, plan=plan, workload=workload, release_note=note)
    if fmt in GPU_FORMATS:
        if runtime == "furiosa":
            raise InputError(source="--emit", value=fmt,
                             expected="furiosa, yaml or json for an RNGD plan (its TP counts PEs, not GPUs)")
        return render_gpu(fmt, plan=plan, model=model, workload=workload,
                          devices_per_node=getattr(hardware, "devices_per_node", None), hardware=hardware)
    doc = _document(plan=plan, model=model, workload=workload, space=space, release=release, runtime=runtime)
    return render_yaml(doc) if fmt == "yaml" else render_json(doc)


def _document(*, plan: ParallelPlan, model: ModelSpec, workload: Workload, space: object, release: str | None,
              runtime: str | None) -> dict[str, object]:
    release_name = None
    devices = None
    if runtime is None and release is not None:
        runtime = "furiosa"  # a Furiosa release was named
    if runtime == "furiosa":
        chosen, _ = release_for(space=space, release=release)
        release_name = chosen.release
        devices = [mesh.device_strings() for mesh in machine_meshes(plan)]
    return plan_document(plan=plan, model=model, workload=workload, runtime=runtime, release=release_name,
                         space=_space_name(space), devices=devices)


def _runtime(space: object, hardware: object) -> str | None:
    """Returns 'furiosa', 'gpu' or None (unknown) from the space, else the hardware."""
    runtime = getattr(space, "runtime", None)
    if runtime in ("furiosa", "gpu"):
        return runtime
    name = _space_name(space)
    if name:
        return "furiosa" if name.startswith("furiosa") else "gpu" if name.startswith("gpu") else None
    units = getattr(hardware, "compute_units_per_device", None)
    if units is not None:
        return "furiosa" if units > 1 else "gpu"
    return None


def _space_name(space: object) -> str | None:
    if space is None:
        return None
    if isinstance(space, str):
        return space
    name = getattr(space, "name", None)
    return str(name) if name else None
