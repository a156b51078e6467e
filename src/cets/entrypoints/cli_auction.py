"""`cets auction open|bid|close|show`: one-way auctions from the operators' console, on the
database named by `--db` / `CETS_DATABASE_URL`, acting as the registered person `--as` (default
`$CETS_PERSON`, else `admin`), whose role is checked as the API checks it: the exchange operator
announces and closes (the authority announces an auction of its own reserve), a holder's
operator with `trade` bids for its holder, staff and holders' operators with `read` show (the
latter see their own holder's bids only).

Exit codes as for every `cets` command: 0 done, 1 refused (the reject code and message on
stderr), 2 bad input or not permitted. Prices are yuan with two decimals ("50.00"); a window is
two Asia/Shanghai local times, `START..END` ("2024-03-04T10:00..2024-03-04T11:00").

The clock is a parameter of `auction_cli` (the system clock for `cets`), so a test can run the
same commands at a chosen moment.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from cets.domain.registry.access import HOLDER_ROLES
from cets.domain.registry.holders import AUTHORITY
from cets.domain.trading.calendar import Window
from cets.domain.units import AmountError, format_fen, parse_fen
from cets.entrypoints.cli_admin import AsOption, DbOption, Session, _fail, _report, out
from cets.service.auction import AuctionView
from cets.service.clock import SHANGHAI, Clock, SystemClock, from_us
from cets.service.exchange import Exchange

IdOption = Annotated[
    str | None, typer.Option("--id", help="Client id (idempotency key); default: new.")
]


def _fen(text: str, name: str) -> int:
    try:
        return parse_fen(text, field=name)
    except AmountError as exc:
        _fail(f"--{name}: {exc}")


def _window(text: str | None) -> Window | None:
    if text is None:
        return None
    start, sep, end = text.partition("..")
    try:
        if not sep:
            raise ValueError("no '..' between start and end")
        return (
            datetime.fromisoformat(start).replace(tzinfo=SHANGHAI),
            datetime.fromisoformat(end).replace(tzinfo=SHANGHAI),
        )
    except ValueError as exc:
        _fail(f"--window {text!r}: {exc}; give START..END, e.g. 2024-03-04T10:00..2024-03-04T11:00")


def _view_data(view: AuctionView, own: str | None) -> dict[str, Any]:
    """The auction as JSON; with `own`, only that holder's bids."""
    a = view.auction
    window = None
    if a.opens_us is not None and a.closes_us is not None:
        window = [from_us(us).replace(tzinfo=None).isoformat() for us in (a.opens_us, a.closes_us)]
    bids = []
    for b in view.bids:
        if own is not None and b.account != own:
            continue
        allocated, paid = view.allocation(b.id)
        bids.append(
            {
                "id": b.id,
                "account": b.account,
                "price": format_fen(b.price),
                "quantity": b.quantity,
                "status": b.status,
                "reason": b.reason,
                "allocated": allocated,
                "paid": None if paid is None else format_fen(paid),
            }
        )
    return {
        "id": a.id,
        "seller": a.seller,
        "instrument": a.instrument,
        "quantity": a.quantity,
        "reserve_price": format_fen(a.reserve),
        "pricing": a.pricing,
        "window": window,
        "state": view.state,
        "sold": view.order.filled,
        "clearing_price": None if a.clearing is None else format_fen(a.clearing),
        "bids": bids,
    }


class _Desk:
    """The commands, acting at `clock`'s time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def _exchange(self, console: Session) -> Exchange:
        return Exchange(console.store, self.clock, console.policy)

    def open(
        self,
        auction_id: Annotated[str, typer.Argument(help="The auction's id (idempotency key).")],
        seller: Annotated[str, typer.Option(help="A holder, or `authority` for its reserve.")],
        instrument: Annotated[str, typer.Option(help="The unit asset sold, e.g. CEA-2023.")],
        quantity: Annotated[int, typer.Option(help="Tonnes offered.")],
        reserve: Annotated[str, typer.Option(help="Reserve price, yuan per tonne: 50.00.")],
        pricing: Annotated[str, typer.Option(help="uniform or pay_as_bid.")] = "uniform",
        window: Annotated[
            str | None,
            typer.Option(
                help="START..END local times, ending before 15:00; default: the day's "
                "sessions until closed."
            ),
        ] = None,
        db: DbOption = None,
        actor: AsOption = "admin",
    ) -> None:
        """Announce a one-way auction; the seller's units are held from now."""
        price, span = _fen(reserve, "reserve"), _window(window)
        console = Session(db, actor)
        console.allow("open_reserve_auction" if seller == AUTHORITY else "open_auction")
        try:
            result = self._exchange(console).open_auction(
                auction_id, seller, instrument, quantity, price, pricing, window=span, actor=actor
            )
        finally:
            console.store.close()
        _report(result, auction_id)

    def bid(
        self,
        auction_id: Annotated[str, typer.Argument(help="The auction bid in.")],
        account: Annotated[str, typer.Option(help="The bidding holder.")],
        quantity: Annotated[int, typer.Option(help="Tonnes wanted.")],
        price: Annotated[str, typer.Option(help="Yuan per tonne: 52.00.")],
        bid_id: IdOption = None,
        db: DbOption = None,
        actor: AsOption = "admin",
    ) -> None:
        """Bid in an open auction; the bid's value and the buyer's fee are held."""
        fen = _fen(price, "price")
        bid_id = bid_id or f"cli-{uuid.uuid4().hex[:16]}"
        console = Session(db, actor)
        console.allow("trade", {"account": account})
        try:
            result = self._exchange(console).bid(
                bid_id, auction_id, account, quantity, fen, actor=actor
            )
        finally:
            console.store.close()
        _report(result, bid_id)

    def close(
        self,
        auction_id: Annotated[str, typer.Argument(help="The auction to clear.")],
        db: DbOption = None,
        actor: AsOption = "admin",
    ) -> None:
        """Close an auction: best bids first up to the quantity; the rest of each hold released."""
        console = Session(db, actor)
        console.allow("close_auction")
        try:
            result = self._exchange(console).close_auction(auction_id, actor=actor)
        finally:
            console.store.close()
        _report(result, auction_id)

    def show(
        self,
        auction_id: Annotated[str, typer.Argument(help="The auction.")],
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        db: DbOption = None,
        actor: AsOption = "admin",
    ) -> None:
        """An auction, its state and each bid with what it was allocated and pays."""
        console = Session(db, actor)
        console.allow("read_auctions", {"holder": console.person.holder})
        try:
            view = self._exchange(console).auction_view(auction_id)
        finally:
            console.store.close()
        if view is None:
            _fail(f"no auction {auction_id!r}")
            return
        own = console.person.holder if console.person.role in HOLDER_ROLES else None
        data = _view_data(view, own)
        if as_json:
            sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
            return
        window = "..".join(data["window"]) if data["window"] else "the day's sessions"
        out.print(
            f"{data['id']}: {data['seller']} sells {data['quantity']:,} t {data['instrument']}, "
            f"reserve {data['reserve_price']}, {data['pricing']}, window {window}; "
            f"{data['state']}, sold {data['sold']:,} t at clearing price "
            f"{data['clearing_price'] or '-'}",
            highlight=False,
            markup=False,
        )
        table = Table("bid", "account", "price", "quantity", "status", "allocated", "paid")
        for b in data["bids"]:
            table.add_row(
                b["id"],
                b["account"],
                b["price"],
                f"{b['quantity']:,}",
                b["reason"] or b["status"],
                f"{b['allocated']:,}",
                b["paid"] or "",
            )
        out.print(table)


def auction_cli(clock: Clock | None = None) -> typer.Typer:
    """The `cets auction` commands, acting at `clock`'s time (default: the system's)."""
    app = typer.Typer(help="One-way auctions: open, bid, close, show.", no_args_is_help=True)
    desk = _Desk(clock or SystemClock())
    app.command("open")(desk.open)
    app.command("bid")(desk.bid)
    app.command("close")(desk.close)
    app.command("show")(desk.show)
    return app


auction_app = auction_cli()
