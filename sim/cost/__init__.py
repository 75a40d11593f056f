"""Energy (action counts x energy per action + leakage x time) and area models."""
