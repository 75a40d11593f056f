"""Mapping: operators -> tiles that fit the on-chip buffers (loop order, residency, dataflow)."""
