"""Typed, validated inputs: models, hardware, search spaces, workloads."""
