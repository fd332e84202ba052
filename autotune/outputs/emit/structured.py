"""The plan, model and workload as one YAML or JSON document, for tools without a dedicated emitter."""
from __future__ import annotations

import json

import yaml

from autotune.parallel_plan import ParallelPlan
from autotune.specs.model import ModelSpec
from autotune.specs.workload import Workload


def plan_document(*, plan: ParallelPlan, model: ModelSpec, workload: Workload, runtime: str | None,
                  release: str | None, space: str | None, devices: list[list[str]] | None) -> dict[str, object]:
    """Returns the document: plan degrees, model identity, workload, runtime, and RNGD devices when known."""
    doc: dict[str, object] = {
        "plan": plan.to_dict(),
        "model": {"name": model.name, "hf_id": model.hf_id, "checkpoint": model.serving_id,
                  "model_type": model.model_type,
                  "max_position_embeddings": model.max_position_embeddings},
        "workload": {"input_len": workload.input_len, "output_len": workload.output_len,
                     "context_len": workload.context_len, "batch_per_replica": plan.batch_size,
                     "dtype": workload.dtype, "kv_dtype": workload.cache_dtype,
                     "ttft_ms": workload.ttft_ms, "tpot_ms": workload.tpot_ms},
        "runtime": {"name": runtime, "release": release, "space": space,
                    "tensor_parallel_unit": "pe" if runtime == "furiosa" else "device"},
    }
    if devices is not None:
        doc["devices"] = devices
    return doc


def render_yaml(doc: dict[str, object]) -> str:
    """Returns the document as YAML with sorted keys."""
    return yaml.safe_dump(doc, sort_keys=True, default_flow_style=False)


def render_json(doc: dict[str, object]) -> str:
    """Returns the document as indented JSON with sorted keys."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
