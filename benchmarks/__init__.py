"""Benchmarks: measured figures printed as tables, each against a baseline measured in the same run."""
