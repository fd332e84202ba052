"""The analytical cost model: memory, time and communication for arrays of candidates."""
