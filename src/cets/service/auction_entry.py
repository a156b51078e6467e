"""Entering a one-way auction: what an announcement and a bid must pass before they are held,
and the rows the auction keeps beside its order rows. The gates' precedence and the choices made
where the rules are silent are written down in `cets.service.auction`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ledger.model import Account, Purpose, Transfer, TransferCode, TransferFlags
from cets.domain.registry.holders import AUTHORITY, BANK, EXCHANGE, REGISTRY
from cets.domain.trading.calendar import Mode, Window, format_sessions, to_local
from cets.domain.trading.rules import check_quantity, check_tick
from cets.domain.units import CASH, format_fen
from cets.service.clock import from_us
from cets.service.ports import OrderRow, TradeRow
from cets.service.venue_base import VenueBase, VenueUnitOfWork, order_hold_id

OPEN = ("open", "partially_filled")  # the order statuses that can still trade
_NOT_SELLERS = frozenset({REGISTRY, EXCHANGE, BANK})


@dataclass(slots=True)
class AuctionRow:
    """An auction's announcement and state (`auctions` row); times in microseconds UTC."""

    id: str
    instrument: str
    seller: str
    quantity: int
    reserve: int
    pricing: str
    opens_us: int | None  # None with closes_us: the day's listed sessions
    closes_us: int | None
    state: str  # open | closed
    day: date  # the trading day it belongs to
    opened_us: int
    closed_us: int | None
    clearing: int | None  # the lowest accepted bid's price (what all pay, if uniform)


class AuctionUnitOfWork(VenueUnitOfWork, Protocol):
    def auction(self, auction_id: str) -> AuctionRow | None: ...
    def insert_auction(self, a: AuctionRow) -> None: ...
    def close_auction(self, auction_id: str, closed_us: int, clearing: int | None) -> None: ...
    def insert_auction_bid(self, bid_id: str, auction_id: str) -> None: ...
    def auction_of_bid(self, bid_id: str) -> str | None: ...
    def auction_bids(self, auction_id: str) -> list[OrderRow]: ...
    def auction_trades(self, auction_id: str) -> list[TradeRow]: ...


class AuctionEntry(VenueBase):
    """The gates and holds of auction orders: the announcement's and each bid's."""

    def _auction_uow(self, uow: VenueUnitOfWork) -> AuctionUnitOfWork:
        return uow  # type: ignore[return-value]  # the SQL unit of work has the auction rows

    def _admit_auction(
        self, uow: AuctionUnitOfWork, row: OrderRow, now: datetime, window: Window | None
    ) -> Transfer:
        """The opening gates in their precedence; the hold on the seller's units."""
        if row.account in _NOT_SELLERS:
            raise DomainError(
                RejectCode.invalid_field,
                f"seller {row.account!r}: an account holder, or authority for its reserve",
                field="seller",
            )
        self._holder(uow, row.account, moving_out=True, field="seller")
        self._check_halt(uow, row.instrument)
        self._check_window(now, window)
        try:
            check_tick(row.price, self.policy.tick_fen)
        except DomainError as off:
            raise DomainError(off.code, f"reserve {off.message}", field="reserve_price") from off
        check_quantity(row.quantity, Mode.auction, self.policy)
        # The authority's units for sale are its reserve: issued, not yet allocated.
        purpose = Purpose.reserve if row.account == AUTHORITY else Purpose.holding
        debit = self._existing(uow, row.account, purpose, row.instrument, row.quantity)
        return self._order_hold(uow, row, debit_account=debit, amount=row.quantity)

    def _order_hold(
        self, uow: AuctionUnitOfWork, row: OrderRow, *, debit_account: Account, amount: int
    ) -> Transfer:
        """The order hold `order:<id>` of `amount`, credited to the exchange's in-transit."""
        (transit,) = self._accounts(
            uow, row.at_us, (EXCHANGE, Purpose.in_transit, debit_account.asset)
        )
        return self._move(
            row.id,
            debit_account,
            transit,
            amount,
            TransferCode.order,
            flags=TransferFlags.PENDING,
            ref=row.id,
            transfer_id=order_hold_id(row.id),
        )

    def _check_halt(self, uow: AuctionUnitOfWork, instrument: str) -> None:
        instruments = uow.instruments()
        if instrument not in instruments:
            raise DomainError(
                RejectCode.unknown_instrument, f"no instrument {instrument!r}", field="instrument"
            )
        if instruments[instrument][1] or uow.venue()[1]:
            raise DomainError(
                RejectCode.instrument_halted,
                f"trading in {instrument} is halted; auctions and bids are refused until it "
                "resumes",
                field="instrument",
            )

    def _check_window(self, now: datetime, window: Window | None) -> None:
        """An announced window lies within the trading day of the announcement, ends before
        that day's end (15:00, when the day's orders expire: the exchange closes the auction
        between the window's end and then) and has not ended; without one, that day's sessions
        must not be over."""
        local = to_local(now)
        day = self.calendar.trading_day_of(local)
        if window is None:
            if local >= self.calendar.day_end(day):
                raise DomainError(
                    RejectCode.outside_trading_session,
                    f"the sessions of {day} are over: an auction without a window takes bids "
                    f"in the day's sessions ({format_sessions(Mode.listed)})",
                )
            return
        start, end = to_local(window[0]), to_local(window[1])
        shown = f"window {start:%Y-%m-%d %H:%M:%S}..{end:%Y-%m-%d %H:%M:%S}"
        if start >= end:
            raise DomainError(
                RejectCode.invalid_field, f"{shown}: it must start before it ends", field="window"
            )
        day_end = self.calendar.day_end(day)
        if start.date() != day or end >= day_end:
            raise DomainError(
                RejectCode.invalid_field,
                f"{shown} must lie within the trading day {day} and end before its "
                f"{day_end:%H:%M} end, when the day's orders expire (auction orders are day "
                "orders)",
                field="window",
            )
        if end <= local:
            raise DomainError(
                RejectCode.outside_trading_session,
                f"{shown} has already ended at {local:%H:%M:%S}",
                field="window",
            )

    def _admit_bid(
        self, uow: AuctionUnitOfWork, auction: AuctionRow, row: OrderRow, now: datetime
    ) -> Transfer:
        """The bidding gates in their precedence; the hold on the bidder's funds."""
        if row.account == auction.seller:
            raise DomainError(
                RejectCode.accounts_must_be_different,
                f"{row.account} sells in auction {auction.id!r} and cannot bid in it",
                field="account",
            )
        self._holder(uow, row.account, receiving=True, field="account")
        self._check_halt(uow, auction.instrument)
        sell = uow.order(auction.id)
        if auction.state != "open" or sell is None or sell.status not in OPEN:
            state = auction.state if auction.state != "open" or sell is None else sell.status
            raise DomainError(
                RejectCode.auction_not_open,
                f"auction {auction.id!r} is {state}: it takes no more bids",
                field="auction",
            )
        self._check_bid_time(auction, now)
        check_tick(row.price, self.policy.tick_fen)
        check_quantity(row.quantity, Mode.auction, self.policy)
        if row.quantity > auction.quantity:
            raise DomainError(
                RejectCode.quantity_out_of_range,
                f"quantity {row.quantity:,} t is more than the {auction.quantity:,} t "
                f"auction {auction.id!r} offers",
                field="quantity",
            )
        if row.price < auction.reserve:
            raise DomainError(
                RejectCode.bid_below_reserve_price,
                f"price {format_fen(row.price)} is below the reserve price "
                f"{format_fen(auction.reserve)} of auction {auction.id!r}",
                field="price",
            )
        amount = self._buy_hold(row.price, row.quantity)
        debit = self._existing(uow, row.account, Purpose.fund, CASH, amount)
        return self._order_hold(uow, row, debit_account=debit, amount=amount)

    def _check_bid_time(self, auction: AuctionRow, now: datetime) -> None:
        local = to_local(now)
        if auction.opens_us is not None and auction.closes_us is not None:
            window = (from_us(auction.opens_us), from_us(auction.closes_us))
            self.calendar.check_session(local, Mode.auction, window=window)
            return
        same_day = self.calendar.trading_day_of(local) == auction.day
        if not (same_day and self.calendar.in_session(local, Mode.listed)):
            raise DomainError(
                RejectCode.outside_trading_session,
                f"{local:%Y-%m-%d %H:%M:%S} is outside auction {auction.id!r}'s window: the "
                f"sessions of {auction.day} ({format_sessions(Mode.listed)}, Asia/Shanghai)",
            )
