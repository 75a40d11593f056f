"""Hardware component models: timing closed forms, per-cycle reference steppers, DRAM."""
