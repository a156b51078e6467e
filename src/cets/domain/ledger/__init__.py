"""The ledger kernel: accounts, transfers, holds, linked batches and their invariants."""

from cets.domain.ledger.kernel import BatchResult, LedgerState, apply_transfers
from cets.domain.ledger.model import (
    Account,
    AccountFlags,
    Hold,
    Purpose,
    Transfer,
    TransferCode,
    TransferFlags,
)

__all__ = [
    "Account",
    "AccountFlags",
    "BatchResult",
    "Hold",
    "LedgerState",
    "Purpose",
    "Transfer",
    "TransferCode",
    "TransferFlags",
    "apply_transfers",
]
