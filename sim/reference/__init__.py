"""Slow, independent references of composed behaviour (the whole run, cycle by cycle) for the tests."""
