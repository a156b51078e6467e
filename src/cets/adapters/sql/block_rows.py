"""Rows of block agreement negotiation: inquiries, and the terms of block quotes (their addressee,
what they answer, their thread); see `tables.block_inquiries` and `tables.block_offers`.

`BlockRows` is mixed into the venue's rows of the unit of work, so an inquiry or a counter-offer
is written in the transaction of the order, hold and journal entry it goes with. The functions
taking a connection are the reads, shared with `block_reads`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select, update

from cets.adapters.sql import tables as t
from cets.service.block_terms import InquiryRow, OfferTerms

_INQUIRY_COLUMNS = (
    t.block_inquiries.c.id,
    t.block_inquiries.c.instrument,
    t.block_inquiries.c.account,
    t.block_inquiries.c.side,
    t.block_inquiries.c.quantity_t,
    t.block_inquiries.c.price_fen,
    t.block_inquiries.c.to_account,
    t.block_inquiries.c.status,
    t.block_inquiries.c.reason,
    t.block_inquiries.c.day,
    t.block_inquiries.c.at_us,
)
_TERMS_COLUMNS = (
    t.block_offers.c.id,
    t.block_offers.c.thread,
    t.block_offers.c.reply_to,
    t.block_offers.c.to_account,
)


def inquiry(conn: Connection, inquiry_id: str) -> InquiryRow | None:
    row = conn.execute(
        select(*_INQUIRY_COLUMNS).where(t.block_inquiries.c.id == inquiry_id)
    ).first()
    return None if row is None else InquiryRow(*row)


def inquiries(conn: Connection, *, status: Sequence[str] | None = None) -> list[InquiryRow]:
    """Inquiries in the order they came (all, or those in `status`)."""
    stmt = select(*_INQUIRY_COLUMNS).order_by(t.block_inquiries.c.at_us, t.block_inquiries.c.id)
    if status is not None:
        stmt = stmt.where(t.block_inquiries.c.status.in_(list(status)))
    return [InquiryRow(*r) for r in conn.execute(stmt)]


def offer_terms(conn: Connection, order_id: str) -> OfferTerms | None:
    row = conn.execute(select(*_TERMS_COLUMNS).where(t.block_offers.c.id == order_id)).first()
    return None if row is None else OfferTerms(*row)


def thread_terms(conn: Connection, thread: str) -> list[OfferTerms]:
    """The terms of every offer made in negotiation `thread`."""
    rows = conn.execute(select(*_TERMS_COLUMNS).where(t.block_offers.c.thread == thread))
    return [OfferTerms(*r) for r in rows]


class BlockRows:
    """Inquiries and offer terms inside the unit of work's transaction."""

    conn: Connection

    def inquiry(self, inquiry_id: str) -> InquiryRow | None:
        return inquiry(self.conn, inquiry_id)

    def insert_inquiry(self, row: InquiryRow) -> None:
        self.conn.execute(
            t.block_inquiries.insert().values(
                id=row.id,
                instrument=row.instrument,
                account=row.account,
                side=row.side,
                quantity_t=row.quantity,
                price_fen=row.price,
                to_account=row.to,
                status=row.status,
                reason=row.reason,
                day=row.day,
                at_us=row.at_us,
            )
        )

    def save_inquiry_state(self, row: InquiryRow) -> None:
        self.conn.execute(
            update(t.block_inquiries)
            .where(t.block_inquiries.c.id == row.id)
            .values(status=row.status, reason=row.reason)
        )

    def expire_inquiries(self) -> int:
        """Every open inquiry expires (the day's end); how many did."""
        done = self.conn.execute(
            update(t.block_inquiries)
            .where(t.block_inquiries.c.status == "open")
            .values(status="expired")
        )
        return int(done.rowcount or 0)

    def offer_terms(self, order_id: str) -> OfferTerms | None:
        return offer_terms(self.conn, order_id)

    def insert_offer_terms(self, terms: OfferTerms) -> None:
        self.conn.execute(
            t.block_offers.insert().values(
                id=terms.id, thread=terms.thread, reply_to=terms.reply_to, to_account=terms.to
            )
        )
