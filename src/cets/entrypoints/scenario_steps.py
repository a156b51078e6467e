"""The scenario runner's steps that act on the venue (trading, settlement), by step type, and
the parser of a correction's legs.

Settlement steps beyond SCENARIOS.md's table (see `cets.service.settlement`): `end_of_day` closes
the day and settles its run (prepared, confirmed by the system when it has no break, delivered);
`confirm_run` (run, accept_breaks?) confirms a run a person must confirm (goes through the
four-eyes gate as `confirm_settlement`); `object` (id, run, account, text, trade?) records a
party's objection; `correction` (id, corrects, reason, objection?, and `reverse: <trade id>` or
`legs`) prepares a correction run. A leg is `{from, to, asset, quantity}` for units or
`{from, to, amount}` for money, between holding or fund accounts; `from`/`to` may be `fees` (the
exchange's fee account); `trade` names the trade it is about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cets.domain.ledger.model import Purpose
from cets.domain.registry.holders import EXCHANGE
from cets.domain.settlement.runs import CorrectionLeg
from cets.domain.units import CASH, AmountError, AssetError, parse_asset, parse_fen, parse_tonnes
from cets.service.exchange import Exchange
from cets.service.ports import CommandResult

ACTOR = "scenario"
_LEG_FIELDS = frozenset({"from", "to", "asset", "quantity", "amount", "trade"})


class LegError(ValueError):
    """A leg that is not valid; the message names the leg and the field."""


def parse_legs(value: Any) -> tuple[CorrectionLeg, ...]:
    """A correction's legs as a scenario file (or an API body) writes them."""
    if not isinstance(value, list) or not value:
        raise LegError("field 'legs' must be a non-empty list of legs")
    return tuple(_leg(f"legs[{i}]", leg) for i, leg in enumerate(value))


def _leg(where: str, leg: Any) -> CorrectionLeg:
    if not isinstance(leg, dict):
        raise LegError(f"{where}: expected a mapping of fields")
    unknown = sorted(set(leg) - _LEG_FIELDS)
    if unknown:
        raise LegError(f"{where}: unknown field '{unknown[0]}'")
    for name in ("from", "to"):
        if not isinstance(leg.get(name), str):
            raise LegError(f"{where}: field '{name}' must name a holder or 'fees'")
    money = "amount" in leg
    if money == ("quantity" in leg):
        raise LegError(f"{where}: give either 'quantity' (units, with 'asset') or 'amount' (money)")
    try:
        if money:
            asset, amount = CASH, parse_fen(leg["amount"], field=f"{where}.amount")
        else:
            if "asset" not in leg:
                raise LegError(f"{where}: missing field 'asset'")
            asset = parse_asset(leg["asset"], field=f"{where}.asset")
            amount = parse_tonnes(leg["quantity"], field=f"{where}.quantity", allow_zero=False)
    except (AmountError, AssetError) as exc:
        raise LegError(str(exc)) from exc
    purpose = Purpose.fund if money else Purpose.holding
    ends = [
        (EXCHANGE, Purpose.fees) if leg[name] == "fees" else (leg[name], purpose)
        for name in ("from", "to")
    ]
    trade = leg.get("trade")
    (source, source_purpose), (target, target_purpose) = ends
    return CorrectionLeg(
        source,
        source_purpose,
        target,
        target_purpose,
        asset,
        amount,
        None if trade is None else str(trade),
    )


VENUE: dict[str, Callable[[Exchange, dict[str, Any]], CommandResult]] = {
    "order": lambda x, a: x.place(
        a["id"],
        a["account"],
        a["instrument"],
        a["side"],
        a["quantity"],
        a["price"],
        mode=a.get("mode", "listed"),
        actor=a["account"],
    ),
    "pick": lambda x, a: x.pick(
        a["id"], a["account"], a["quote"], a["quantity"], actor=a["account"]
    ),
    "block_quote": lambda x, a: x.quote(
        a["id"],
        a["account"],
        a["instrument"],
        a["side"],
        a["quantity"],
        a["price"],
        to=a.get("to"),
        actor=a["account"],
    ),
    "block_inquiry": lambda x, a: x.inquire(
        a["id"],
        a["account"],
        a["instrument"],
        a["side"],
        a["quantity"],
        a.get("price"),
        to=a.get("to"),
        actor=a["account"],
    ),
    "block_counter": lambda x, a: x.counter(
        a["id"], a["account"], a["reply_to"], a["quantity"], a["price"], actor=a["account"]
    ),
    "cancel_inquiry": lambda x, a: x.cancel_inquiry(a["id"], actor=ACTOR),
    "block_accept": lambda x, a: x.accept_block(
        a["id"], a["account"], a["quote"], actor=a["account"]
    ),
    "cancel_order": lambda x, a: x.cancel(a["id"], actor=ACTOR),
    "halt": lambda x, a: x.halt(a["instrument"], actor=ACTOR),
    "resume": lambda x, a: x.halt(a["instrument"], actor=ACTOR, halted=False),
    "end_of_day": lambda x, a: x.end_of_day(actor=ACTOR),
    "auction_open": lambda x, a: x.open_auction(
        a["id"],
        a["seller"],
        a["instrument"],
        a["quantity"],
        a["reserve_price"],
        a["pricing"],
        window=a.get("window"),
        actor=ACTOR,
    ),
    "bid": lambda x, a: x.bid(
        a["id"], a["auction"], a["account"], a["quantity"], a["price"], actor=a["account"]
    ),
    "auction_close": lambda x, a: x.close_auction(a["id"], actor=ACTOR),
    "object": lambda x, a: x.object_to_run(
        a["id"],
        a["run"],
        account=a["account"],
        text=a["text"],
        trade=a.get("trade"),
        actor=a["account"],
    ),
    "correction": lambda x, a: x.correct_run(
        a["id"],
        corrects=a["corrects"],
        legs=a.get("legs", ()),
        reverse=a.get("reverse"),
        reason=a["reason"],
        objection=a.get("objection"),
        actor=ACTOR,
    ),
}
