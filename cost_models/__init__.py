"""The analytical cost model: memory, time and communication for arrays of candidates.

Public entry points: `evaluate`, `max_batch`, `load_params`, `CostParams`, `CostTable`.
"""
from cost_models.evaluate import evaluate, max_batch
from cost_models.params import CostParams, load_params
from cost_models.table import CostTable

__all__ = ["CostParams", "CostTable", "evaluate", "load_params", "max_batch"]
