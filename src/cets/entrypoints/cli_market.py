"""`cets market`: the trading venue from the console, over the `Exchange` service (no rules here).

Commands act as a registered person (`--as`, default `$CETS_PERSON`, else `admin`), checked
against the same access rules as the API: holders' operators trade their own holder's account,
the exchange operator lists instruments and halts, the exchange or registry operator runs the
day's end. The market data reads (`depth`, `trades`, `klines`) are public and need no person.

Output is a readable table, or JSON with `--json` (prices and money as strings with two
decimals, quantities as integers, as the API and the scenario files write them). Exit codes: 0
done; 1 refused (the code, the field at fault and the message on stderr; a refused order is
still recorded as rejected, as through the API); 2 bad input (an unknown option, a price that is
not yuan with at most two decimals, no database, no such person).

Choices where the rules are silent (written down here so they are found):
- `--at 2024-03-04T13:30:00` makes a command act at that Asia/Shanghai local time instead of
  now (rehearsals, replaying a day, tests); the journal records that time. It gives nothing the
  database's credentials do not already give (see `cli_admin`);
- `halt` and `resume` need an instrument or `--market` (the whole market), never neither: halting
  everything is not a default;
- `cancel ID` cancels an open order or quote, or withdraws an open inquiry, whichever the id is.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from cets.domain.trading.calendar import Mode
from cets.domain.units import format_fen
from cets.entrypoints import cli_admin as admin
from cets.entrypoints import cli_market_view as view
from cets.entrypoints.cli_market_view import (
    Account,
    AtOption,
    Id,
    JsonOption,
    Market,
    Price,
    Quantity,
    SideArg,
    Symbol,
    ToOption,
    fail,
    market_session,
    parse_price,
    parse_symbol,
    refuse,
    show_done,
    show_inquiry,
    show_order,
)


class OrderMode(StrEnum):
    """The modes an order takes here (auctions have `cets auction`)."""

    listed = Mode.listed.value
    block = Mode.block.value


market_app = typer.Typer(
    help="The trading venue: instruments, orders, block negotiation, halts, the day's end, "
    "market data.",
    no_args_is_help=True,
)

# -- the exchange operator -----------------------------------------------------------------


@market_app.command("list-instrument")
def list_instrument(
    symbol: Symbol,
    prev_close: Annotated[str, typer.Option("--prev-close", help="Yuan per tonne.")],
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    at: AtOption = None,
) -> None:
    """List (or re-price) an instrument around its previous close."""
    unit, close = parse_symbol(symbol), parse_price(prev_close, "prev_close")
    with market_session(db, actor, None, at) as market:
        market.allow("run_market", {})
        result = market.done(market.exchange.list_instrument(unit, close, actor=actor))
        show_done(result, f"listed {unit} at previous close {format_fen(close)}", as_json)


def _halting(
    instrument: str | None, whole: bool, halted: bool, as_json: bool, market: Market
) -> None:
    if (instrument is None) == (not whole):
        fail("name an INSTRUMENT, or give --market for the whole market (not both)")
    market.allow("run_market", {})
    target = None if whole else parse_symbol(instrument or "")
    result = market.done(market.exchange.halt(target, actor=market.person.id, halted=halted))
    verb = "halted" if halted else "resumed"
    show_done(result, f"{verb} {target or 'the whole market'}", as_json)


InstrumentOrNone = Annotated[str | None, typer.Argument(help="The instrument.")]
WholeMarket = Annotated[bool, typer.Option("--market", help="The whole market.")]


def _halt_command(halted: bool) -> None:
    """`halt` and `resume`: the same command but for the way it turns."""

    def command(
        instrument: InstrumentOrNone = None,
        whole: WholeMarket = False,
        as_json: JsonOption = False,
        db: admin.DbOption = None,
        actor: admin.AsOption = "admin",
        at: AtOption = None,
    ) -> None:
        with market_session(db, actor, None, at) as market:
            _halting(instrument, whole, halted, as_json, market)

    verb = "Halt" if halted else "Resume"
    command.__doc__ = f"{verb} trading in an instrument, or in the whole market (--market)."
    market_app.command("halt" if halted else "resume")(command)


_halt_command(True)
_halt_command(False)


@market_app.command("end-of-day")
def end_of_day(
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Expire the day's orders and inquiries, settle its trades, fix its close."""
    with market_session(db, actor, config, at) as market:
        market.allow("close_day", {})
        result = market.done(market.exchange.end_of_day(actor=actor))
        run = result.message and market.store.settlement_run(result.message)
        if not run:
            show_done(result, "the day is closed (no new trades to settle)", as_json)
        else:
            show_done(
                result, f"the day is closed; settlement run {run.id} is {run.status}", as_json
            )


# -- holders' operators ----------------------------------------------------------------------


@market_app.command("order")
def order(
    order_id: Id,
    account: Account,
    instrument: Symbol,
    side: SideArg,
    quantity: Quantity,
    price: Price,
    mode: Annotated[OrderMode, typer.Option(help="listed, or block (a block quote).")] = (
        OrderMode.listed
    ),
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Enter a limit order: it matches what it crosses at the resting price; the rest rests."""
    unit, price_fen = parse_symbol(instrument), parse_price(price, "price")
    with market_session(db, actor, config, at) as market:
        market.allow("trade", {"account": account})
        placed = market.exchange.place(
            order_id, account, unit, side, quantity, price_fen, mode=mode.value, actor=actor
        )
        market.done(placed)
        show_order(market, order_id, as_json)


@market_app.command("pick")
def pick(
    order_id: Id,
    account: Account,
    quote: Annotated[str, typer.Argument(help="The resting quote taken.")],
    quantity: Quantity,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Take a resting listed quote at its price (within the best five levels of its side)."""
    with market_session(db, actor, config, at) as market:
        market.allow("trade", {"account": account})
        market.done(market.exchange.pick(order_id, account, quote, quantity, actor=actor))
        show_order(market, order_id, as_json)


@market_app.command("cancel")
def cancel(
    order_id: Annotated[str, typer.Argument(help="An open order, quote or inquiry.")],
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    at: AtOption = None,
) -> None:
    """Cancel an open order or quote (its hold is released), or withdraw an open inquiry."""
    with market_session(db, actor, None, at) as market:
        found = market.store.venue_order(order_id)
        inquiry = market.blocks().inquiry(order_id) if found is None else None
        if found is None and inquiry is None:
            refuse("unknown_order", f"no order or inquiry {order_id!r}", "id")
        owner = found.account if found is not None else inquiry.account if inquiry else ""
        market.allow("trade", {"account": owner})
        if found is not None:
            market.done(market.exchange.cancel(order_id, actor=actor))
            show_order(market, order_id, as_json)
            return
        market.done(market.exchange.cancel_inquiry(order_id, actor=actor))
        show_inquiry(market, order_id, as_json)


# -- block agreement ------------------------------------------------------------------------


@market_app.command("block-quote")
def block_quote(
    order_id: Id,
    account: Account,
    instrument: Symbol,
    side: SideArg,
    quantity: Quantity,
    price: Price,
    to: ToOption = None,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Post a block quote (>= 100,000 t, +-30%, 13:00-15:00), to anyone or put to one holder."""
    unit, price_fen = parse_symbol(instrument), parse_price(price, "price")
    with market_session(db, actor, config, at) as market:
        market.allow("trade", {"account": account})
        posted = market.exchange.quote(
            order_id, account, unit, side, quantity, price_fen, to=to, actor=actor
        )
        market.done(posted)
        show_order(market, order_id, as_json)


@market_app.command("block-accept")
def block_accept(
    order_id: Id,
    account: Account,
    quote: Annotated[str, typer.Argument(help="The open block quote taken whole.")],
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Accept a block quote or counter-offer whole, at its price: the trade is made."""
    with market_session(db, actor, config, at) as market:
        market.allow("trade", {"account": account})
        market.done(market.exchange.accept_block(order_id, account, quote, actor=actor))
        show_order(market, order_id, as_json)


@market_app.command("block-inquiry")
def block_inquiry(
    inquiry_id: Id,
    account: Account,
    instrument: Symbol,
    side: SideArg,
    quantity: Quantity,
    price: Annotated[str | None, typer.Option(help="A limit price, for information.")] = None,
    to: ToOption = None,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    at: AtOption = None,
) -> None:
    """Ask for block quotes: it holds nothing, and is answered with counter-offers."""
    unit = parse_symbol(instrument)
    limit = None if price is None else parse_price(price, "price")
    with market_session(db, actor, None, at) as market:
        market.allow("trade", {"account": account})
        asked = market.exchange.inquire(
            inquiry_id, account, unit, side, quantity, limit, to=to, actor=actor
        )
        market.done(asked)
        show_inquiry(market, inquiry_id, as_json)


@market_app.command("block-counter")
def block_counter(
    order_id: Id,
    account: Account,
    reply_to: Annotated[str, typer.Argument(help="The open block quote or inquiry answered.")],
    quantity: Quantity,
    price: Price,
    as_json: JsonOption = False,
    db: admin.DbOption = None,
    actor: admin.AsOption = "admin",
    config: admin.ConfigOption = None,
    at: AtOption = None,
) -> None:
    """Answer a block quote or inquiry with a counter-offer, put to its poster."""
    price_fen = parse_price(price, "price")
    with market_session(db, actor, config, at) as market:
        market.allow("trade", {"account": account})
        offered = market.exchange.counter(
            order_id, account, reply_to, quantity, price_fen, actor=actor
        )
        market.done(offered)
        show_order(market, order_id, as_json)


# -- reads ------------------------------------------------------------------------------------

for _name, _read in (
    ("depth", view.depth),
    ("trades", view.trades),
    ("klines", view.klines),
    ("orders", view.orders),
    ("thread", view.thread),
):
    market_app.command(_name)(_read)
