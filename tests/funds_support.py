"""A world for the funds tests: a registry and the funds service over SqlStore on SQLite, the
default bank `bank` and a second settlement bank B2, holders E1, E2 and I1, and the people who
act: bank1 (the default bank's staff, no holder), b2op (B2's), reg1, and E1's operators.

Trades are arranged as rows (`trade`), as the venue writes them, so the T+1 rules are tested
apart from matching and settlement."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, insert, select

from cets.adapters.sql import tables as t
from cets.adapters.sql.store import SqlStore
from cets.domain.ledger.model import Purpose
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.domain.trading.calendar import TradingCalendar
from cets.domain.units import CASH
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.funds import Funds
from cets.service.people import People
from cets.service.registry import Registry

CEA = "CEA-2024"
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a trading day
HOLIDAY = date(2026, 3, 9)  # the next Monday, closed in `CALENDAR`
CALENDAR = TradingCalendar(frozenset({HOLIDAY}))

PEOPLE = (
    Person("bank1", "Default bank clerk", Role.settlement_bank),
    Person("b2op", "B2 clerk", Role.settlement_bank, "B2"),
    Person("reg1", "Registry operator", Role.registry_operator),
    Person("e1op", "E1 operator", Role.key_emitter, "E1"),
)
_ordinals = itertools.count(1)


@dataclass
class World:
    store: SqlStore
    clock: SettableClock
    registry: Registry
    funds: Funds

    def fund(self, holder: str) -> tuple[int, int]:
        """(balance, available) of a holder's fund account."""
        return self.balance(holder, Purpose.fund, CASH)

    def units(self, holder: str) -> tuple[int, int]:
        return self.balance(holder, Purpose.holding, CEA)

    def balance(self, holder: str, purpose: str, asset: str) -> tuple[int, int]:
        for account in self.store.accounts_of(holder):
            if (account.purpose, account.asset) == (purpose, asset):
                return account.balance, account.available
        return 0, 0

    def bank_side(self, bank: str) -> int:
        return self.balance(bank, Purpose.bank, CASH)[0]

    def journal_length(self) -> int:
        return sum(1 for _ in self.store.journal_entries())

    def rows(self, table: t.Table) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def trade(
        self,
        seller: str,
        buyer: str,
        quantity: int,
        price: int,
        *,
        day: date,
        seller_fee: int = 0,
        settled: bool = True,
    ) -> None:
        """A trade row as the venue records it (settled: delivered by the day's end run)."""
        record_trade(
            self.store, seller, buyer, quantity, price, day=day, fee=seller_fee, settled=settled
        )


def record_trade(
    store: SqlStore,
    seller: str,
    buyer: str,
    quantity: int,
    price: int,
    *,
    day: date,
    fee: int = 0,
    settled: bool = True,
) -> None:
    """A trade of CEA-2024 on `day` as the venue records it (`fee`: the seller's)."""
    ordinal = next(_ordinals)
    with store.engine.begin() as conn:
        conn.execute(
            insert(t.trades).values(
                ordinal=ordinal,
                id=f"T{ordinal}",
                instrument=CEA,
                mode="listed",
                buy_order=f"B{ordinal}",
                sell_order=f"S{ordinal}",
                buyer=buyer,
                seller=seller,
                price_fen=price,
                quantity_t=quantity,
                buyer_fee_fen=0,
                seller_fee_fen=fee,
                day=day,
                at_us=0,
                settled_seq=1 if settled else None,
            )
        )


@contextmanager
def audited_world(url: str) -> Iterator[World]:
    """The world on `url`; whatever a test did, the store must still audit clean after it."""
    built = build_world(url)
    try:
        yield built
        report = built.store.audit()
        assert report.ok, (report.chain_break, report.violations)
    finally:
        built.store.close()


def build_world(url: str) -> World:
    store = SqlStore.open(url, durable=False)
    clock = SettableClock(MONDAY)
    registry = Registry(store, clock, calendar=CALENDAR)
    for holder in (
        Holder("B2", "settlement_bank", "Second settlement bank"),
        Holder("E1", "key_emitter", "Wuhan Power No.1"),
        Holder("E2", "key_emitter", "Xiangyang Thermal"),
        Holder("I1", "individual", "Zhang San"),
    ):
        assert registry.open_holder(holder, actor="setup").ok
    people = People(store, clock)
    for person in PEOPLE:
        people.add(person, actor="setup")
    return World(store, clock, registry, Funds(store, clock, calendar=CALENDAR))
