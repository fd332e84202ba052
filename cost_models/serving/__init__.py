"""A replica under traffic: an iteration-level simulator of one engine, priced by the cost model."""
