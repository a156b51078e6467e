"""Read-only queries of block agreement negotiation for the API and the CLI (no locks taken)."""

from __future__ import annotations

from sqlalchemy import Engine

from cets.adapters.sql import block_rows, venue
from cets.service.block_terms import InquiryRow, OfferTerms, Thread


class BlockReads:
    """Inquiries and negotiation threads; each call reads on its own connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def inquiry(self, inquiry_id: str) -> InquiryRow | None:
        with self.engine.connect() as conn:
            return block_rows.inquiry(conn, inquiry_id)

    def terms(self, order_id: str) -> OfferTerms | None:
        with self.engine.connect() as conn:
            return block_rows.offer_terms(conn, order_id)

    def inquiries(self, *, open_only: bool = False) -> list[InquiryRow]:
        with self.engine.connect() as conn:
            return block_rows.inquiries(conn, status=("open",) if open_only else None)

    def thread(self, any_id: str) -> Thread | None:
        """The negotiation that inquiry or block quote `any_id` is part of (None: neither)."""
        with self.engine.connect() as conn:
            found = block_rows.inquiry(conn, any_id)
            if found is not None:
                root = found.id
            else:
                terms = block_rows.offer_terms(conn, any_id)
                order = venue.order(conn, any_id)
                if terms is None and (order is None or order.mode != "block"):
                    return None
                root = any_id if terms is None else terms.thread
            inquiry = block_rows.inquiry(conn, root)
            replies = {terms.id: terms for terms in block_rows.thread_terms(conn, root)}
            first = venue.order(conn, root) if inquiry is None else None
            offers = [venue.order(conn, offer_id) for offer_id in replies]
            unique = {o.id: o for o in [first, *offers] if o is not None}
            rows = sorted(unique.values(), key=lambda o: (o.seq, o.id))
            return Thread(root, inquiry, [(o, replies.get(o.id)) for o in rows])
