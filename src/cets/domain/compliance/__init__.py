"""Compliance: periods and their rules, allocation by the benchmark method, surrender and offsets,
status per entity and period (DOMAIN.md, "Allocation and compliance")."""
