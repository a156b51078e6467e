"""Market simulation for the demo, the benchmarks and scale tests."""
