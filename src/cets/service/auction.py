"""One-way auctions (单向竞价) as venue use cases: open, bid, close (DOMAIN.md, "Trading").

The exchange announces an auction: a seller's quantity of an instrument, a reserve price, a
pricing rule (uniform or pay-as-bid) and optionally a window. Bidders bid; at close the bids are
cleared by `cets.domain.trading.auction.clear` (best price first, time breaks ties, up to the
quantity; nothing below the reserve).

The venue's own machinery carries it, so settlement and the release of holds need nothing new:
- the auction is a sell order row (mode `auction`, id = the auction's id) holding the seller's
  units (hold `order:<id>`, credited to the exchange's in-transit account, as any sell order);
  the authority sells out of its reserve (`authority`/`reserve`, where `Registry.issue` puts
  new units and `allocate` takes them from): a primary auction;
- each bid is a buy order row (mode `auction`) holding bid price x quantity + the buyer's fee
  on that value (hold `order:<bid id>`), as any buy order;
- clearing makes trades (mode `auction`) naming the bid as buy order and the auction as sell
  order; the day's end settles them like every trade (`Settlement.chain` posts the trade's value
  at the trade price and the fees out of those two holds);
- `auctions` keeps what order rows cannot: reserve, pricing, window, state, clearing price.

Journal: `auction_open` (with the seller's hold), `bid` (with the bidder's hold) and
`auction_close` (the trades made, and the voids releasing what the holds keep beyond them).

Gates, in their precedence (the first failing one is reported; they live in `auction_entry`):
- open: pricing known, quantity and reserve > 0; the seller a holder or `authority` (not the
  registry, exchange or bank), in a state that lets units leave it; instrument known; not halted;
  the window (below); reserve on the tick; quantity in the auction range (>= the listed minimum,
  whole lots); the seller's available units (T+1: `units_not_yet_sellable`);
- bid: auction known (`unknown_auction`); not the seller itself (`accounts_must_be_different`);
  bidder's state lets units come in; not halted; auction open (`auction_not_open`: closed, or
  its units withdrawn or expired); inside the window (`outside_trading_session`); price on the
  tick; quantity in the auction range and at most the quantity offered; price >= reserve
  (`bid_below_reserve_price`); funds for price x quantity + fee (`insufficient_funds`);
- close: auction known; not before an announced window's end (`auction_window_not_ended`).

Choices where the rules are silent (written down so they are found):
- the window is optional. Auction orders are day orders: the day's end (15:00, run by hand or
  by `day_close.DayCloser`) expires every open order and releases its hold. So an announced
  window lies within the trading day of the announcement and ends before 15:00, leaving the
  exchange the time between the window's end and 15:00 to close it; it may start before or after
  the announcement but must not have ended. Without a window the auction takes bids in that
  day's listed sessions (09:30-11:30, 13:00-15:00) until the exchange closes it, which it may do
  whenever it decides (no window was promised);
- the exchange cannot close an auction before its announced window ends (bidders were promised
  the window); an auction not closed by the day's end expires with its bids, unfilled, and every
  hold is released (nothing trades); an auction whose units were withdrawn (the seller cancelled
  its order) or expired takes no more bids and may be closed at once, clearing nothing; closing
  again answers as a replay;
- a refused announcement keeps only its order row (status `rejected`, the code as its reason),
  which has no pricing or window: a repeat of its id with the same seller, instrument, quantity
  and reserve gets the first refusal again whatever its pricing or window;
- at close, each bid is filled or expired: a partly filled bid's rest expires with the auction.
  What a hold keeps beyond what settlement will take (unfilled bids whole; for a filled bid the
  difference between its price and a lower uniform price, and the fee on it; the seller's unsold
  units) is released at once, in the `auction_close` entry; the day's end releases anything left;
- trade fees are the venue's fee schedule, each side on the trade's value at the price paid, as
  for every trade; the authority selling its reserve pays the seller's fee like any seller, and
  its proceeds go to its own fund account (`authority`/`fund`/CNY);
- market data (`klines.daily_stats`): auction trades count in the day's volume and amount and
  not in its prices (open, high, low, the VWAP close), which come from listed trades only; they
  are not block volume either. A day whose only trades are auction trades closes flat at the
  previous close;
- a halt stops new auctions and bids but not the close: clearing moves nothing before the
  day's end settles it.
- a bidder passes the same account-state gate as a listed buy order (units may come in); a
  bidder may withdraw an open bid before the close with the venue's order cancel, and the seller
  may withdraw the auction the same way (its order's cancel); several bids of one bidder are
  cleared each on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Transfer, TransferCode, TransferFlags
from cets.domain.trading.auction import Bid, Clearing, Pricing, clear
from cets.domain.trading.calendar import Mode, Window, to_local
from cets.domain.trading.orders import Side
from cets.service.auction_entry import OPEN, AuctionEntry, AuctionRow, AuctionUnitOfWork
from cets.service.clock import from_us, to_us
from cets.service.ports import Command, CommandResult, OrderRow, TradeRow
from cets.service.venue_base import VenueUnitOfWork, order_hold_id, seller_fee, side_fee

__all__ = ["AuctionDesk", "AuctionRow", "AuctionUnitOfWork", "AuctionView"]


@dataclass(frozen=True, slots=True)
class AuctionView:
    """An auction as read back: its row, its sell order, every bid given (rejected ones
    included, in arrival order) and the trades its close made (in clearing order)."""

    auction: AuctionRow
    order: OrderRow
    bids: list[OrderRow]
    trades: list[TradeRow]

    @property
    def state(self) -> str:
        """open, closed, withdrawn (its seller cancelled its order) or expired (the day's end
        came before the close)."""
        if self.auction.state == "closed":
            return "closed"
        if self.order.status in OPEN:
            return "open"
        return "withdrawn" if self.order.status == "cancelled" else "expired"

    def allocation(self, bid_id: str) -> tuple[int, int | None]:
        """(tonnes allocated, price paid per tonne or None) for one bid."""
        for trade in self.trades:
            if trade.buy_order == bid_id:
                return trade.quantity, trade.price
        return 0, None


class AuctionDesk(AuctionEntry):
    """The venue's one-way auctions: open, bid, close, and reading one back."""

    # -- open --------------------------------------------------------------------------------

    def open_auction(
        self,
        auction_id: str,
        seller: str,
        instrument: str,
        quantity: int,
        reserve: int,
        pricing: str,
        *,
        window: Window | None = None,
        actor: str,
    ) -> CommandResult:
        """Announce an auction of `quantity` t of `seller` (a holder, or `authority` for its
        reserve) at reserve price `reserve` fen/t; the seller's units are held at once."""
        opens = closes = None
        if window is not None:
            opens, closes = to_us(window[0]), to_us(window[1])
        body = {
            "id": auction_id,
            "seller": seller,
            "instrument": instrument,
            "quantity": quantity,
            "reserve_price": reserve,
            "pricing": pricing,
            "opens_us": opens,
            "closes_us": closes,
        }
        if pricing not in Pricing.__members__:
            return CommandResult(
                RejectCode.invalid_field,
                f"pricing {pricing!r}: uniform or pay_as_bid",
                field="pricing",
            )
        malformed = _malformed(quantity=quantity, reserve_price=reserve)
        if malformed is not None:
            return malformed

        def work(raw: VenueUnitOfWork) -> CommandResult:
            uow = self._auction_uow(raw)
            known = uow.order(auction_id)
            if known is not None:
                return _repeat_open(uow, known, body)
            now = self.clock.now()
            row = self._new_order(
                uow, now, auction_id, instrument, seller, Side.sell, Mode.auction, reserve, quantity
            )
            try:
                hold = self._admit_auction(uow, row, now, window)
                result = self._hold(uow, row, hold, "auction_open", actor, body)
            except DomainError as refused:
                return self._refused(uow, row, refused)
            uow.insert_order(row)
            uow.insert_auction(
                AuctionRow(
                    auction_id,
                    row.instrument,
                    seller,
                    quantity,
                    reserve,
                    pricing,
                    opens,
                    closes,
                    "open",
                    row.day,
                    row.at_us,
                    None,
                    None,
                )
            )
            return result._replace(message="open")

        return self._refusing(work)

    # -- bid ---------------------------------------------------------------------------------

    def bid(
        self,
        bid_id: str,
        auction_id: str,
        account: str,
        quantity: int,
        price: int,
        *,
        actor: str,
    ) -> CommandResult:
        """Bid for `quantity` t at `price` fen/t in auction `auction_id`; the bidder's funds for
        price x quantity + the buyer's fee are held until the close (and settlement)."""
        body = {
            "id": bid_id,
            "auction": auction_id,
            "account": account,
            "quantity": quantity,
            "price": price,
        }
        malformed = _malformed(quantity=quantity, price=price)
        if malformed is not None:
            return malformed

        def work(raw: VenueUnitOfWork) -> CommandResult:
            uow = self._auction_uow(raw)
            known = uow.order(bid_id)
            if known is not None:
                return _repeat_bid(uow, known, body)
            auction = uow.auction(auction_id)
            if auction is None:
                raise DomainError(
                    RejectCode.unknown_auction, f"no auction {auction_id!r}", field="auction"
                )
            now = self.clock.now()
            row = self._new_order(
                uow,
                now,
                bid_id,
                auction.instrument,
                account,
                Side.buy,
                Mode.auction,
                price,
                quantity,
            )
            uow.insert_auction_bid(bid_id, auction_id)
            try:
                hold = self._admit_bid(uow, auction, row, now)
                result = self._hold(uow, row, hold, "bid", actor, body)
            except DomainError as refused:
                return self._refused(uow, row, refused)
            uow.insert_order(row)
            return result._replace(message=row.status)

        return self._refusing(work)

    # -- close -------------------------------------------------------------------------------

    def close_auction(self, auction_id: str, *, actor: str) -> CommandResult:
        """Clear the auction: trades for the accepted bids, the rest of every hold released."""

        def work(raw: VenueUnitOfWork) -> CommandResult:
            uow = self._auction_uow(raw)
            auction = uow.auction(auction_id)
            sell = uow.order(auction_id)
            if auction is None or sell is None:
                raise DomainError(
                    RejectCode.unknown_auction, f"no auction {auction_id!r}", field="id"
                )
            if auction.state == "closed":
                return CommandResult(None, "closed", replayed=True)
            now = self.clock.now()
            if (
                sell.status in OPEN
                and auction.closes_us is not None
                and to_us(now) < auction.closes_us
            ):
                raise DomainError(
                    RejectCode.auction_window_not_ended,
                    f"auction {auction_id!r} takes bids until "
                    f"{from_us(auction.closes_us):%Y-%m-%d %H:%M:%S}; it can be closed from then "
                    "on",
                    field="id",
                )
            bids = [b for b in uow.auction_bids(auction_id) if b.status in OPEN]
            offered = sell.quantity - sell.filled - sell.cancelled if sell.status in OPEN else 0
            clearing = clear(
                [
                    Bid(b.id, b.account, b.price, b.quantity - b.filled - b.cancelled, b.seq)
                    for b in bids
                ],
                offered,
                auction.reserve,
                Pricing(auction.pricing),
            )
            at = to_us(now)
            trades = self._auction_trades(uow, auction, clearing, now)
            uow.insert_trades(trades)
            releases = self._finish_bids(uow, bids, trades)
            releases += self._finish_sale(uow, sell, offered, clearing.sold)
            uow.close_auction(auction_id, at, clearing.price)
            body = {
                "id": auction_id,
                "sold": clearing.sold,
                "clearing_price": clearing.price,
                "trades": [
                    [t.id, t.buy_order, t.quantity, t.price, t.buyer_fee, t.seller_fee]
                    for t in trades
                ],
            }
            advances = self._advances(uow, trades, at)
            command = Command("auction_close", actor, body, tuple(releases) + advances)
            (result,) = uow.submit([command], at)
            assert result.ok, f"closing auction {auction_id}: {result.code} {result.message}"
            return CommandResult(None, "closed", seq=result.seq)

        return self._refusing(work)

    def _auction_trades(
        self, uow: AuctionUnitOfWork, auction: AuctionRow, clearing: Clearing, now: datetime
    ) -> list[TradeRow]:
        """One trade per allocation, in clearing order; fees on the value at the price paid."""
        ordinal = uow.next_trade_ordinal()
        fees = self.policy.fees
        day = self.calendar.trading_day_of(to_local(now))
        rows = []
        for i, allocation in enumerate(clearing.allocations):
            value = allocation.value
            rows.append(
                TradeRow(
                    ordinal + i,
                    f"T{ordinal + i}",
                    auction.instrument,
                    Mode.auction,
                    allocation.bid,
                    auction.id,
                    allocation.account,
                    auction.seller,
                    allocation.price,
                    allocation.quantity,
                    side_fee(value, fees.buyer_bps, fees.min_fee_fen),
                    seller_fee(value, fees),
                    day,
                    to_us(now),
                )
            )
        return rows

    def _finish_bids(
        self, uow: AuctionUnitOfWork, bids: list[OrderRow], trades: list[TradeRow]
    ) -> list[Transfer]:
        """Each open bid filled (in whole or part) or expired; what its hold keeps beyond the
        trade's value and the buyer's fee is released."""
        traded = {t.buy_order: t for t in trades}
        releases = []
        for row in bids:
            trade = traded.get(row.id)
            needed = 0 if trade is None else trade.price * trade.quantity + trade.buyer_fee
            row.filled += 0 if trade is None else trade.quantity
            rest = row.quantity - row.filled - row.cancelled
            row.cancelled += rest
            row.status = "expired" if rest else "filled"
            uow.save_order_state(row)
            releases += self._release(uow, row.id, needed)
        return releases

    def _finish_sale(
        self, uow: AuctionUnitOfWork, sell: OrderRow, offered: int, sold: int
    ) -> list[Transfer]:
        """The auction's own order: filled, or its unsold rest expired and released."""
        if sell.status not in OPEN:
            return []  # withdrawn or expired before the close: nothing is held any more
        sell.filled += sold
        sell.cancelled += offered - sold
        sell.status = "filled" if sold == offered else "expired"
        uow.save_order_state(sell)
        return self._release(uow, sell.id, sold)

    def _release(self, uow: AuctionUnitOfWork, order_id: str, keep: int) -> list[Transfer]:
        """Void what hold `order:<id>` has beyond `keep` (what settlement will take)."""
        hold = uow.hold(order_hold_id(order_id))
        assert hold is not None, f"order {order_id} has no hold"
        excess = hold.remaining - keep
        assert excess >= 0, f"order {order_id} holds {hold.remaining}, settlement needs {keep}"
        if excess == 0:
            return []
        return [
            self._on_hold(
                TransferId(f"{hold.id}/auction-close"),
                hold,
                excess,
                TransferCode.order,
                TransferFlags.VOID_PENDING,
                order_id,
            )
        ]

    # -- reading -----------------------------------------------------------------------------

    def auction_view(self, auction_id: str) -> AuctionView | None:
        """The auction, its order, its bids and its trades now (None: no such auction)."""
        with self.store.unit_of_work() as raw:
            uow = self._auction_uow(self._venue_uow(raw))
            auction = uow.auction(auction_id)
            order = uow.order(auction_id)
            if auction is None or order is None:
                return None
            return AuctionView(
                auction, order, uow.auction_bids(auction_id), uow.auction_trades(auction_id)
            )


def _malformed(**values: int) -> CommandResult | None:
    """A quantity or price of 0 or less is no auction or bid at all: refused, not recorded."""
    for name, value in values.items():
        if value <= 0:
            return CommandResult(
                RejectCode.amount_must_be_positive, f"{name} {value}, was expected > 0", field=name
            )
    return None


def _replay(known: OrderRow, what: str, status: str) -> CommandResult:
    if known.status == "rejected":
        assert known.reason is not None
        return CommandResult(
            RejectCode(known.reason), f"{what} {known.id!r} was rejected", replayed=True
        )
    return CommandResult(None, status, replayed=True)


def _repeat_open(uow: AuctionUnitOfWork, known: OrderRow, body: dict[str, Any]) -> CommandResult:
    """The same announcement again gets the first answer; anything else under its id is
    `duplicate_id` (an order's id included: auctions and orders share one id space)."""
    auction = uow.auction(known.id)
    same = (
        known.mode,
        known.side,
        known.account,
        known.instrument,
        known.quantity,
        known.price,
    ) == (
        Mode.auction,
        Side.sell,
        body["seller"],
        body["instrument"],
        body["quantity"],
        body["reserve_price"],
    ) and (
        auction is None  # rejected at opening: only the order row was kept
        or (auction.pricing, auction.opens_us, auction.closes_us)
        == (body["pricing"], body["opens_us"], body["closes_us"])
    )
    if not same:
        return CommandResult(
            RejectCode.duplicate_id, f"id {known.id!r} was already used for another order"
        )
    return _replay(known, "auction", "open" if auction is None else auction.state)


def _repeat_bid(uow: AuctionUnitOfWork, known: OrderRow, body: dict[str, Any]) -> CommandResult:
    same = (known.mode, known.side, known.account, known.quantity, known.price) == (
        Mode.auction,
        Side.buy,
        body["account"],
        body["quantity"],
        body["price"],
    ) and uow.auction_of_bid(known.id) == body["auction"]
    if not same:
        return CommandResult(
            RejectCode.duplicate_id, f"id {known.id!r} was already used for another order"
        )
    return _replay(known, "bid", known.status)
