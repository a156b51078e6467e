"""Shared set-up for the ledger tests that run against a real `SqlStore`.

`open_holdings` opens key emitters with one limited holding account each (plus the authority's
issuance account), as a registry would before allocating units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cets.adapters.sql.store import SqlStore
from cets.domain.ledger import AccountFlags
from cets.domain.registry.holders import AUTHORITY, Holder, HolderKind
from cets.service.ports import AccountKey, AccountSpec

ASSET = "CEA-2023"
LIMITED = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
# Journal entries a fresh store holds after `open_holdings`: bootstrap's system holders, the new
# holders, the new accounts.
SETUP_ENTRIES = 3


@dataclass(frozen=True, slots=True)
class Holdings:
    issuance: int  # the authority's issuance account id (not limited)
    accounts: dict[str, int]  # holder id -> its holding account id (limited)


def open_holdings(
    store: SqlStore, holder_ids: Sequence[str], *, now_us: int, asset: str = ASSET
) -> Holdings:
    holders = [Holder(h, HolderKind.key_emitter, f"Emitter {h}") for h in holder_ids]
    issuance_key = AccountKey(AUTHORITY, "issuance", asset)
    keys = {h: AccountKey(h, "holding", asset) for h in holder_ids}
    with store.unit_of_work() as uow:
        uow.open_holders(holders, actor="test", now_us=now_us)
        opened = uow.open_accounts(
            [AccountSpec(issuance_key, 0), *(AccountSpec(k, LIMITED) for k in keys.values())],
            actor="test",
            now_us=now_us,
        )
        uow.commit()
    return Holdings(opened[issuance_key].id, {h: opened[k].id for h, k in keys.items()})
