"""Test support shipped with CETS: throwaway servers for tests and benchmarks."""
