"""The `cets market` console's shared parts: options, parsing at the edge, the session a
command acts in, output (a table, or JSON with `--json`), and the read commands (`depth`,
`trades`, `klines`, `orders`, `thread`), which `cli_market` registers. See `cli_market` for the
conventions."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from cets.adapters.sql.block_reads import BlockReads
from cets.adapters.sql.database import database_url
from cets.adapters.sql.store import SqlStore
from cets.domain.errors import DomainError
from cets.domain.marketdata.klines import Interval
from cets.domain.policy import Policy
from cets.domain.registry.access import HOLDER_ROLES, Person, authorize
from cets.domain.trading.calendar import Mode, TradingCalendar
from cets.domain.trading.orders import Side
from cets.domain.units import AmountError, AssetError, format_fen, parse_asset, parse_fen
from cets.entrypoints import cli_admin as admin
from cets.entrypoints import market_reads
from cets.service.block_terms import InquiryRow, OfferTerms, Thread
from cets.service.clock import SHANGHAI, SettableClock, SystemClock, from_us
from cets.service.exchange import Exchange
from cets.service.ports import CommandResult, OrderRow

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

AtOption = Annotated[
    str | None,
    typer.Option(
        "--at", help="Act at this Asia/Shanghai local time (2024-03-04T13:30:00), not now."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Id = Annotated[str, typer.Argument(help="The client's id (its idempotency key).")]
Account = Annotated[str, typer.Argument(help="The holder whose account trades.")]
Symbol = Annotated[str, typer.Argument(help="The instrument: a unit asset, e.g. CEA-2023.")]
SideArg = Annotated[Side, typer.Argument(help="buy or sell.")]
Quantity = Annotated[int, typer.Argument(help="Whole tonnes.")]
Price = Annotated[str, typer.Argument(help="Yuan per tonne, e.g. 60.00.")]
ToOption = Annotated[
    str | None, typer.Option("--to", help="The one holder it is put to (default: anyone).")
]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(message, highlight=False, markup=False)
    raise typer.Exit(code)


def refuse(code: str, message: str, field: str | None) -> NoReturn:
    where = f" (field {field})" if field else ""
    fail(f"{code}{where}: {message}", 1)


def parse_price(text: str, field: str) -> int:
    try:
        return parse_fen(text, field=field)
    except AmountError as exc:
        fail(f"{field}: {exc}")


# What market data may name besides a unit asset: an imported pilot market's history (HBEA,
# SZA2017, ...), as the API's path parameter allows.
MARKET_DATA_SYMBOL = re.compile(r"[A-Z][A-Z0-9-]{0,15}")


def parse_market_data_symbol(text: str) -> str:
    if MARKET_DATA_SYMBOL.fullmatch(text) is None:
        fail(f"instrument: {text!r} is not an instrument symbol (like CEA-2023 or HBEA)")
    return text


def parse_symbol(text: str) -> str:
    try:
        return parse_asset(text, field="instrument")
    except AssetError as exc:
        fail(f"instrument: {exc}")


def local_moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at {text!r}: give a local datetime like 2024-03-04T13:30:00")
    if moment.tzinfo is not None:
        fail(f"--at {text!r}: give Asia/Shanghai local time without an offset")
    return moment.replace(tzinfo=SHANGHAI)


@dataclass
class Market:
    """The store, the acting person and the venue for one command."""

    store: SqlStore
    person: Person
    exchange: Exchange

    def allow(self, kind: str, params: dict[str, Any]) -> None:
        try:
            authorize(self.person, kind, params)
        except DomainError as refused:
            refuse(refused.code, refused.message, refused.field)

    def done(self, result: CommandResult) -> CommandResult:
        if not result.ok:
            assert result.code is not None
            refuse(result.code, result.message, result.field)
        return result

    def blocks(self) -> BlockReads:
        return BlockReads(self.store.engine)


@contextmanager
def market_session(
    db: str | None, actor: str, config: Path | None, at: str | None
) -> Iterator[Market]:
    moment = local_moment(at)
    session = admin.Session(db, actor, config)
    clock = SystemClock() if moment is None else SettableClock(moment)
    try:
        yield Market(session.store, session.person, Exchange(session.store, clock, session.policy))
    finally:
        session.store.close()


@contextmanager
def public(db: str | None) -> Iterator[SqlStore]:
    """The database for a public read: no person acts."""
    try:
        store = SqlStore.existing(database_url(db))
    except LookupError as exc:
        fail(str(exc))
    try:
        yield store
    finally:
        store.close()


def emit(data: Any, as_json: bool, shown: Table | None = None) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    elif shown is not None:
        show(shown)


def show(shown: Table) -> None:
    """Print a table whole: as wide as its rows need (to 200 columns), whatever the terminal."""
    Console(width=max(out.width, 200)).print(shown)


def order_data(o: OrderRow, terms: OfferTerms | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": o.id,
        "account": o.account,
        "instrument": o.instrument,
        "side": o.side,
        "mode": o.mode,
        "price": format_fen(o.price),
        "quantity": o.quantity,
        "filled": o.filled,
        "remaining": o.quantity - o.filled - o.cancelled,
        "status": o.status,
        "reason": o.reason,
    }
    if o.mode == Mode.block:
        data["to"] = None if terms is None else terms.to
        data["reply_to"] = None if terms is None else terms.reply_to
    return data


def inquiry_data(i: InquiryRow) -> dict[str, Any]:
    return {
        "id": i.id,
        "account": i.account,
        "instrument": i.instrument,
        "side": i.side,
        "quantity": i.quantity,
        "price": None if i.price is None else format_fen(i.price),
        "to": i.to,
        "status": i.status,
        "reason": i.reason,
    }


def rows_table(rows: list[dict[str, Any]], *columns: str) -> Table:
    shown = Table(*columns, box=box.SIMPLE_HEAD)
    for row in rows:
        shown.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return shown


ORDER_COLUMNS = (
    *("id", "account", "instrument", "side", "mode", "price", "quantity"),
    *("filled", "remaining", "status", "reason", "to", "reply_to"),
)
INQUIRY_COLUMNS = ("id", "account", "instrument", "side", "quantity", "price", "to", "status")


def show_order(market: Market, order_id: str, as_json: bool) -> None:
    order = market.store.venue_order(order_id)
    assert order is not None, f"order {order_id} was accepted but has no row"
    data = order_data(order, market.blocks().terms(order_id))
    emit(data, as_json, rows_table([data], *ORDER_COLUMNS))


def show_done(result: CommandResult, what: str, as_json: bool) -> None:
    if as_json:
        emit({"ok": True, "seq": result.seq}, True)
    else:
        out.print(f"{what} (journal entry {result.seq})", highlight=False)


def show_inquiry(market: Market, inquiry_id: str, as_json: bool) -> None:
    found = market.blocks().inquiry(inquiry_id)
    assert found is not None, f"inquiry {inquiry_id} was accepted but has no row"
    data = inquiry_data(found)
    emit(data, as_json, rows_table([data], *INQUIRY_COLUMNS))


# -- reads (registered by `cli_market`) ------------------------------------------------------


def depth(symbol: Symbol, as_json: JsonOption = False, db: admin.DbOption = None) -> None:
    """The five best price levels of each side now (public)."""
    unit = parse_symbol(symbol)
    with public(db) as store:
        venue = Exchange(store, SystemClock(), Policy())
        levels = venue.depth(unit)
    if levels is None:
        refuse("unknown_instrument", f"no instrument {unit!r}", "instrument")
    bids, asks = ([{"price": format_fen(p), "quantity": q} for p, q in side] for side in levels)
    shown = Table("bid quantity", "bid", "ask", "ask quantity", box=box.SIMPLE_HEAD)
    for i in range(max(len(bids), len(asks))):
        bid = bids[i] if i < len(bids) else {"price": "", "quantity": ""}
        ask = asks[i] if i < len(asks) else {"price": "", "quantity": ""}
        shown.add_row(
            str(bid["quantity"]), str(bid["price"]), str(ask["price"]), str(ask["quantity"])
        )
    emit({"instrument": unit, "bids": bids, "asks": asks}, as_json, shown)


def trades(
    symbol: Symbol,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
) -> None:
    """The tape: the latest trades, newest first (public: no buyer or seller)."""
    unit = parse_symbol(symbol)
    with public(db) as store:
        rows = store.venue_trades(instrument=unit, last=limit)
    tape = [
        {
            "id": t.id,
            "at": from_us(t.at_us).replace(tzinfo=None).isoformat(),
            "price": format_fen(t.price),
            "quantity": t.quantity,
            "mode": t.mode,
        }
        for t in reversed(rows)
    ]
    emit({"instrument": unit, "trades": tape}, as_json, rows_table(tape, *TAPE_COLUMNS))


TAPE_COLUMNS = ("id", "at", "price", "quantity", "mode")
BAR_COLUMNS = ("time", "open", "high", "low", "close", "volume", "amount")
DateOption = Annotated[str | None, typer.Option(help="A trading day, YYYY-MM-DD.")]


def _day(text: str | None, name: str, default: date) -> date:
    if text is None:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--{name} {text!r}: give a day like 2024-03-04")


def klines(
    symbol: Symbol,
    interval: Annotated[Interval, typer.Option(help="1m 5m 15m 30m 1h 1d 1w 1M.")] = Interval.day,
    start: DateOption = None,
    end: DateOption = None,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
) -> None:
    """K-lines aligned to the Asia/Shanghai trading day (public; imported history too)."""
    unit = parse_market_data_symbol(symbol)
    first, last = _day(start, "start", date(1900, 1, 1)), _day(end, "end", date(9999, 12, 31))
    if first > last:
        fail(f"--start {first} is after --end {last}")
    with public(db) as store:
        calendar = TradingCalendar.from_policy(Policy())
        found = market_reads.bars(store, calendar, unit, interval, first, last)
    data = [
        {
            "time": market_reads.bar_label(b.time, interval),
            "open": format_fen(b.open),
            "high": format_fen(b.high),
            "low": format_fen(b.low),
            "close": format_fen(b.close),
            "volume": b.volume,
            "amount": format_fen(b.amount),
        }
        for b in found
    ]
    shown = rows_table(data, *BAR_COLUMNS)
    emit({"instrument": unit, "interval": interval.value, "bars": data}, as_json, shown)


def orders(
    account: Account,
    open_only: Annotated[bool, typer.Option("--open", help="Only what is still open.")] = False,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """An account's orders and quotes, and its inquiries, in the order they came."""
    with market_session(db, actor, None, None) as market:
        market.allow("read_orders", {"account": account})
        reads = market.blocks()
        mine = [o for o in market.store.venue_orders() if o.account == account]
        asked = [i for i in reads.inquiries() if i.account == account]
        if open_only:
            mine = [o for o in mine if o.status in ("open", "partially_filled")]
            asked = [i for i in asked if i.status == "open"]
        rows = [order_data(o, reads.terms(o.id)) for o in mine]
    questions = [inquiry_data(i) for i in asked]
    if as_json:
        emit({"account": account, "orders": rows, "inquiries": questions}, True)
        return
    show(rows_table(rows, *ORDER_COLUMNS))
    if questions:
        show(rows_table(questions, *INQUIRY_COLUMNS))


def thread(
    any_id: Annotated[str, typer.Argument(help="An inquiry, quote or counter-offer in it.")],
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
) -> None:
    """A block negotiation: the inquiry or quote it began with and every offer since.

    A holder's operator sees what its holder posted, what is put to it, and what is put to
    anyone."""
    with market_session(db, actor, None, None) as market:
        person = market.person
        market.allow("read_orders", {"account": person.holder})
        found: Thread | None = market.blocks().thread(any_id)
        if found is not None and person.role in HOLDER_ROLES:
            found = found.seen_by(person.holder or "")
    seen = [] if found is None else [o.id for o, _ in found.offers]
    if found is not None and found.inquiry is not None:
        seen.append(found.inquiry.id)
    if found is None or any_id not in seen:
        refuse("unknown_order", f"no negotiation {any_id!r}", "id")
    offers = [order_data(o, terms) for o, terms in found.offers]
    asked = None if found.inquiry is None else inquiry_data(found.inquiry)
    if as_json:
        emit({"thread": found.id, "inquiry": asked, "offers": offers}, True)
        return
    if asked is not None:
        show(rows_table([asked], *INQUIRY_COLUMNS))
    show(rows_table(offers, *ORDER_COLUMNS))
