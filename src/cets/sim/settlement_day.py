"""A trading day's end state at scale, for the settlement benchmark and the crash test: `n`
trades between `holders` sellers and as many buyers, each trade with its own sell and buy order
holds and its proceeds advanced to the seller, exactly as the venue leaves them at 15:00, then
the day's run prepared (`Exchange.end_of_day` minus the order book).

Entering a million orders through the venue would take tens of minutes (bench/order_entry.py
measures about 2,000 orders a second), so the day is written through the ledger's own batch path
instead: the registry opens the holders, issues, allocates and deposits; each trade's two holds
and its advance are one command each through `uow.submit` (the kernel checks every rule); the
trades go in as the venue writes them. The order rows are not written: settlement reads the
trades and the holds, never the orders. Prices, quantities and counterparties are drawn from a
seeded generator, so a seed gives the same day every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime

from cets.adapters.sql.store import SqlStore
from cets.domain.ids import TransferId
from cets.domain.ledger.model import (
    Purpose,
    Transfer,
    TransferCode,
    TransferFlags,
    default_flags,
)
from cets.domain.registry.holders import EXCHANGE, Holder, HolderKind
from cets.domain.settlement.dvp import proceeds_id
from cets.domain.trading.calendar import local_datetime
from cets.domain.units import CASH
from cets.service.clock import SettableClock, to_us
from cets.service.exchange import Exchange
from cets.service.ports import AccountKey, AccountSpec, Command, TradeRow
from cets.service.registry import Registry
from cets.service.venue_base import order_hold_id, seller_fee, side_fee

ACTOR = "sim"
DAY = date(2024, 3, 4)


@dataclass(frozen=True, slots=True)
class SeededDay:
    run: str
    trades: int
    units: int  # tonnes traded
    value: int  # fen traded
    fees: int  # fen, both sides


def seed_day(
    store: SqlStore,
    exchange: Exchange,
    clock: SettableClock,
    *,
    trades: int,
    holders: int = 100,
    instrument: str = "CEA-2024",
    seed: int = 1,
    batch: int = 5_000,
) -> SeededDay:
    """Write a day of `trades` trades into a fresh `store` and prepare its run (see the module
    doc); `exchange` (on the same store) must have no instrument `instrument` yet."""
    rng = random.Random(seed)
    policy = exchange.policy
    clock.set(local_datetime(DAY, datetime.min.time().replace(hour=9)))
    registry = Registry(store, clock)
    sellers = [f"S{i:04d}" for i in range(holders)]
    buyers = [f"B{i:04d}" for i in range(holders)]
    for holder in sellers + buyers:
        opened = registry.open_holder(Holder(holder, HolderKind.institution, holder), actor=ACTOR)
        assert opened.ok, opened
    exchange.list_instrument(instrument, 6000, actor=ACTOR)
    rows = []
    sold: dict[str, int] = {}
    paid: dict[str, int] = {}
    at = to_us(local_datetime(DAY, datetime.min.time().replace(hour=10)))
    for i in range(1, trades + 1):
        price, quantity = rng.randrange(5400, 6601), rng.randrange(1, 1001)
        buyer, seller = rng.choice(buyers), rng.choice(sellers)
        value = price * quantity
        fees = policy.fees
        buyer_fee = side_fee(value, fees.buyer_bps, fees.min_fee_fen)
        rows.append(
            TradeRow(
                i,
                f"T{i}",
                instrument,
                "listed",
                f"B{i}",
                f"S{i}",
                buyer,
                seller,
                price,
                quantity,
                buyer_fee,
                seller_fee(value, fees),
                DAY,
                at,
            )
        )
        sold[seller] = sold.get(seller, 0) + quantity
        paid[buyer] = paid.get(buyer, 0) + value + buyer_fee
    assert registry.issue("issue", instrument, sum(sold.values()), actor=ACTOR).ok
    for seller, units in sold.items():
        assert registry.allocate(f"allocate-{seller}", seller, instrument, units, actor=ACTOR).ok
    for buyer, money in paid.items():
        assert registry.deposit(f"deposit-{buyer}", buyer, money, actor=ACTOR).ok
    for start in range(0, trades, batch):
        _write_trades(store, rows[start : start + batch], at)
    clock.set(local_datetime(DAY, datetime.min.time().replace(hour=15, minute=5)))
    run = exchange._write(lambda uow: exchange._prepare_run(uow, DAY, ACTOR, to_us(clock.now())))
    assert run is not None and run.trades == trades, run
    return SeededDay(
        run.id,
        trades,
        sum(r.quantity for r in rows),
        sum(r.price * r.quantity for r in rows),
        sum(r.buyer_fee + r.seller_fee for r in rows),
    )


def _write_trades(store: SqlStore, rows: list[TradeRow], at: int) -> None:
    """The trades of `rows` as the venue leaves them: both orders' holds, the seller's advance."""
    with store.unit_of_work() as uow:
        keys = {
            AccountKey(EXCHANGE, Purpose.in_transit, CASH),
            AccountKey(EXCHANGE, Purpose.clearing, CASH),
        }
        for r in rows:
            keys |= {
                AccountKey(EXCHANGE, Purpose.in_transit, r.instrument),
                AccountKey(r.seller, Purpose.holding, r.instrument),
                AccountKey(r.seller, Purpose.fund, CASH),
                AccountKey(r.buyer, Purpose.fund, CASH),
            }
        accounts = uow.open_accounts(
            [AccountSpec(k, default_flags(k.purpose)) for k in keys],
            actor=ACTOR,
            now_us=at,
        )
        cash_transit = accounts[AccountKey(EXCHANGE, Purpose.in_transit, CASH)].id
        clearing = accounts[AccountKey(EXCHANGE, Purpose.clearing, CASH)].id
        commands = []
        for r in rows:
            unit_transit = accounts[AccountKey(EXCHANGE, Purpose.in_transit, r.instrument)].id
            seller_units = accounts[AccountKey(r.seller, Purpose.holding, r.instrument)].id
            seller_fund = accounts[AccountKey(r.seller, Purpose.fund, CASH)].id
            buyer_fund = accounts[AccountKey(r.buyer, Purpose.fund, CASH)].id
            value = r.price * r.quantity
            pending, order = int(TransferFlags.PENDING), str(TransferCode.order)
            commands.append(
                Command(
                    "sim_trade",
                    ACTOR,
                    {"trade": r.id},
                    (
                        Transfer(
                            order_hold_id(r.sell_order),
                            seller_units,
                            unit_transit,
                            r.instrument,
                            r.quantity,
                            order,
                            pending,
                            ref=r.sell_order,
                        ),
                        Transfer(
                            order_hold_id(r.buy_order),
                            buyer_fund,
                            cash_transit,
                            CASH,
                            value + r.buyer_fee,
                            order,
                            pending,
                            ref=r.buy_order,
                        ),
                        Transfer(
                            TransferId(proceeds_id(r.id)),
                            clearing,
                            seller_fund,
                            CASH,
                            value - r.seller_fee,
                            str(TransferCode.trade),
                            ref=r.id,
                        ),
                    ),
                )
            )
        results = uow.submit(commands, at)
        assert all(result.ok for result in results), next(r for r in results if not r.ok)
        uow.insert_trades(rows)
        uow.commit()
