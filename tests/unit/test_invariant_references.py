"""The validator catches transfers and holds that name accounts which do not exist."""

from __future__ import annotations

from cets.domain.ids import AccountId, HolderId, TransferId
from cets.domain.ledger.invariants import movements_from_transfers, validate
from cets.domain.ledger.model import Account, Hold, Transfer


def _pair() -> list[Account]:
    return [
        Account(AccountId(1), HolderId("authority"), "issuance", "CEA-2024", 0, 0, 10, 0, 0),
        Account(AccountId(2), HolderId("E1"), "holding", "CEA-2024", 1, 0, 0, 0, 10),
    ]


def test_a_consistent_pair_of_accounts_has_no_reference_violations() -> None:
    log = [Transfer(TransferId("t1"), AccountId(1), AccountId(2), "CEA-2024", 10, "issue")]
    movements, consumed = movements_from_transfers(log)
    assert validate(_pair(), [], movements, consumed) == []


def test_a_transfer_naming_a_missing_account_is_a_violation() -> None:
    log = [
        Transfer(TransferId("t1"), AccountId(1), AccountId(2), "CEA-2024", 10, "issue"),
        Transfer(TransferId("t2"), AccountId(2), AccountId(99), "CEA-2024", 0 + 1, "transfer"),
    ]
    movements, consumed = movements_from_transfers(log)
    rules = {(v.rule, "99" in v.message) for v in validate(_pair(), [], movements, consumed)}
    assert ("transfer_accounts_exist", True) in rules


def test_a_hold_naming_a_missing_account_is_a_violation() -> None:
    hold = Hold(TransferId("h1"), AccountId(2), AccountId(77), "CEA-2024", "freeze", 5, 0)
    violations = validate(_pair(), [hold])
    assert [v.rule for v in violations if "77" in v.message] == ["hold_accounts_exist"]
