"""The registry: who holds which allowances, and every operation that changes that."""
