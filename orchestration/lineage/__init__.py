"""Lineage of model rows to the raw load batches, resolved at trace time (trace.py)."""
