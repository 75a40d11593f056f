"""Tests written to kill mutants of sim/compute that survived the suite (bench/mutation.py)."""

from __future__ import annotations
