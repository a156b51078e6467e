"""Rows of one-way auctions: the `auctions` table and which bids belong to which auction (see
`tables`). The auction's units and the bids' funds are `orders` rows (`venue.VenueRows`).

`AuctionRows` is mixed into the unit of work, so an auction's writes share the transaction of the
orders, holds and journal entries they go with.
"""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from cets.adapters.sql import tables as t

# The orders' and trades' columns in `OrderRow`/`TradeRow` field order, kept with their other reads.
from cets.adapters.sql.venue import _ORDER_COLUMNS, _TRADE_COLUMNS
from cets.service.auction_entry import AuctionRow
from cets.service.ports import OrderRow, TradeRow

_AUCTION_COLUMNS = (
    t.auctions.c.id,
    t.auctions.c.instrument,
    t.auctions.c.seller,
    t.auctions.c.quantity_t,
    t.auctions.c.reserve_fen,
    t.auctions.c.pricing,
    t.auctions.c.opens_us,
    t.auctions.c.closes_us,
    t.auctions.c.state,
    t.auctions.c.day,
    t.auctions.c.opened_us,
    t.auctions.c.closed_us,
    t.auctions.c.clearing_fen,
)


class AuctionRows:
    """The auctions' reads and writes inside the unit of work's transaction."""

    conn: Connection

    def auction(self, auction_id: str) -> AuctionRow | None:
        row = self.conn.execute(
            select(*_AUCTION_COLUMNS).where(t.auctions.c.id == auction_id)
        ).first()
        return None if row is None else AuctionRow(*row)  # type: ignore[call-arg]

    def insert_auction(self, a: AuctionRow) -> None:
        self.conn.execute(
            t.auctions.insert().values(
                id=a.id,
                instrument=a.instrument,
                seller=a.seller,
                quantity_t=a.quantity,
                reserve_fen=a.reserve,
                pricing=a.pricing,
                opens_us=a.opens_us,
                closes_us=a.closes_us,
                state=a.state,
                day=a.day,
                opened_us=a.opened_us,
                closed_us=a.closed_us,
                clearing_fen=a.clearing,
            )
        )

    def close_auction(self, auction_id: str, closed_us: int, clearing: int | None) -> None:
        self.conn.execute(
            update(t.auctions)
            .where(t.auctions.c.id == auction_id)
            .values(state="closed", closed_us=closed_us, clearing_fen=clearing)
        )

    def insert_auction_bid(self, bid_id: str, auction_id: str) -> None:
        self.conn.execute(t.auction_bids.insert().values(id=bid_id, auction=auction_id))

    def auction_of_bid(self, bid_id: str) -> str | None:
        found = self.conn.execute(
            select(t.auction_bids.c.auction).where(t.auction_bids.c.id == bid_id)
        ).scalar()
        return None if found is None else str(found)

    def auction_bids(self, auction_id: str) -> list[OrderRow]:
        """Every bid given to the auction (rejected ones included), in arrival order."""
        linked = select(t.auction_bids.c.id).where(t.auction_bids.c.auction == auction_id)
        stmt = (
            select(*_ORDER_COLUMNS)
            .where(t.orders.c.id.in_(linked))
            .order_by(t.orders.c.seq, t.orders.c.id)
        )
        return [OrderRow(*r) for r in self.conn.execute(stmt)]  # type: ignore[call-arg]

    def auction_trades(self, auction_id: str) -> list[TradeRow]:
        """The trades the auction's close made, in clearing order."""
        stmt = (
            select(*_TRADE_COLUMNS)
            .where(t.trades.c.sell_order == auction_id, t.trades.c.mode == "auction")
            .order_by(t.trades.c.ordinal)
        )
        return [TradeRow(*r) for r in self.conn.execute(stmt)]  # type: ignore[call-arg]
