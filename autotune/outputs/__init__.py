"""Outputs: tables, CSV, plots and the emitted build and serve settings, read from typed results."""
