"""Typed ids: distinct types for values that are all ints or strings underneath.

`NewType` costs nothing at run time (the hot path stays on plain ints and strs) and lets mypy
refuse an account id where a holder id belongs. Who chooses each id:

- `HolderId`: the registry, at registration (a unified social credit code or an agreed code);
- `AccountId`: the store, when an account is opened (1, 2, 3, ...);
- `TransferId`, `CommandId`: the client; they are idempotency keys (see `ledger.kernel`);
- `OrderId`, `TradeId`: the client and the trading engine (issue 4).
"""

from __future__ import annotations

from typing import NewType

HolderId = NewType("HolderId", str)
AccountId = NewType("AccountId", int)
TransferId = NewType("TransferId", str)
CommandId = NewType("CommandId", str)
OrderId = NewType("OrderId", str)
TradeId = NewType("TradeId", str)
