"""Benchmarks (`make bench`): throughput and memory figures against raw baselines."""
