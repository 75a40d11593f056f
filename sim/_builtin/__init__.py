"""Built-in hardware presets and workloads (installed from the top-level hwconfigs/ and workloads/)."""
