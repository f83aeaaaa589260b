"""Measuring the engine: the benchmark (``bench``), the per-stage profile (``profile``) and the
scaling runs (``scaling``)."""
