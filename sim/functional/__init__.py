"""Integer encoder forward (bit-accurate) and the float reference forward."""
