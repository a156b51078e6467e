"""The venue's commands' shared parts: order admission (the gates in their precedence, the
position limit, the hold), matching and fills with their fees, and releasing what an order holds.
The books and the group commit are `venue_engine`'s; the rules are told in `exchange`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cets.domain.errors import DomainError, RejectCode
from cets.domain.ids import TransferId
from cets.domain.ledger.model import Purpose, Transfer, TransferCode, TransferFlags
from cets.domain.policy import FeeSchedule
from cets.domain.registry.holders import EXCHANGE, HolderKind
from cets.domain.settlement.dvp import proceeds_id
from cets.domain.trading.calendar import Mode, to_local
from cets.domain.trading.orders import Fill, Order, Side
from cets.domain.trading.rules import check_order
from cets.domain.units import CASH, fee_fen
from cets.service.clock import to_us
from cets.service.ports import Command, CommandResult, OrderRow, TradeRow
from cets.service.venue_engine import VenueEngine, VenueUnitOfWork

__all__ = [
    "VenueBase",
    "VenueUnitOfWork",
    "order_hold_id",
    "order_status",
    "seller_fee",
    "side_fee",
]

_PENDING = TransferFlags.PENDING
_VOID = TransferFlags.VOID_PENDING


def order_hold_id(order_id: str) -> TransferId:
    return TransferId(f"order:{order_id}")


def side_fee(value_fen: int, bps: int, minimum_fen: int) -> int:
    """One side's fee on a trade value: basis points, half-up to the fen, at least the minimum
    (no fee at all when both are 0)."""
    if value_fen == 0:
        return 0
    return max(fee_fen(value_fen, bps), minimum_fen)


def seller_fee(value_fen: int, fees: FeeSchedule) -> int:
    """The seller's fee on a trade: the schedule's, but never more than the trade's value (a
    minimum fee above the value of a tiny trade would make selling cost money; the fee is
    taken out of the proceeds, which are advanced to the seller at the fill)."""
    return min(side_fee(value_fen, fees.seller_bps, fees.min_fee_fen), value_fen)


class VenueBase(VenueEngine):
    """The venue's commands' shared parts (see the module doc)."""

    def _new_order(
        self,
        uow: VenueUnitOfWork,
        now: datetime,
        order_id: str,
        instrument: str,
        account: str,
        side: str,
        mode: str,
        price: int,
        quantity: int,
    ) -> OrderRow:
        """An order arriving at `now`: the next arrival number, nothing filled yet."""
        return OrderRow(
            order_id,
            uow.next_order_seq(),
            instrument,
            account,
            side,
            mode,
            price,
            quantity,
            0,
            0,
            "open",
            None,
            self.calendar.trading_day_of(to_local(now)),
            to_us(now),
        )

    def _admit(self, uow: VenueUnitOfWork, row: OrderRow, now: datetime) -> Transfer:
        """The checks before the hold, in their precedence; the hold the order needs."""
        self._gates(uow, row, now)
        return self._means_hold(uow, row)

    def _gates(self, uow: VenueUnitOfWork, row: OrderRow, now: datetime) -> None:
        """The order's checks before its means, in their precedence (see `exchange`)."""
        if row.side not in (Side.buy, Side.sell):
            raise DomainError(
                RejectCode.invalid_field, f"side {row.side!r}: buy or sell", field="side"
            )
        if row.mode not in (Mode.listed, Mode.block):
            raise DomainError(
                RejectCode.invalid_field, f"mode {row.mode!r}: listed or block", field="mode"
            )
        selling = row.side == Side.sell
        holder = self._holder(
            uow, row.account, moving_out=selling, receiving=not selling, field="account"
        )
        instruments = uow.instruments()
        if row.instrument not in instruments:
            raise DomainError(
                RejectCode.unknown_instrument,
                f"no instrument {row.instrument!r}",
                field="instrument",
            )
        prev_close, halted = instruments[row.instrument]
        check_order(
            row.price,
            row.quantity,
            Mode(row.mode),
            now,
            prev_close,
            self.calendar,
            self.policy,
            halted or uow.venue()[1],
            instrument=row.instrument,
        )
        if not selling:
            self._check_position(uow, holder.kind, row)

    def _means_hold(self, uow: VenueUnitOfWork, row: OrderRow) -> Transfer:
        """The hold order `row` needs: the seller's units, or the buyer's money and fee, into
        the exchange's in-transit account (opened on first use)."""
        selling = row.side == Side.sell
        asset = row.instrument if selling else CASH
        amount = row.quantity if selling else self._buy_hold(row.price, row.quantity)
        purpose = Purpose.holding if selling else Purpose.fund
        debit = self._existing(uow, row.account, purpose, asset, amount)
        (transit,) = self._accounts(uow, row.at_us, (EXCHANGE, Purpose.in_transit, asset))
        return self._move(
            row.id,
            debit,
            transit,
            amount,
            TransferCode.order,
            flags=_PENDING,
            ref=row.id,
            transfer_id=order_hold_id(row.id),
        )

    def _check_position(self, uow: VenueUnitOfWork, kind: str, row: OrderRow) -> None:
        """The position limit (DOMAIN.md): what a buyer holds of the instrument's units, has
        bought and not yet received, and still bids for, plus this order, may not exceed its
        limit: a key emitter's allocation of that vintage plus `key_emitter_extra_t`, anyone
        else `other_t`. Units it has frozen or pledged sit in custody and are not counted."""
        limit = self.policy.position_limit
        if limit is None:
            return
        if kind == HolderKind.key_emitter:
            allowed = uow.allocated(row.account, row.instrument) + limit.key_emitter_extra_t
        else:
            allowed = limit.other_t
        position = uow.position(row.account, row.instrument)
        if position + row.quantity > allowed:
            raise DomainError(
                RejectCode.position_limit_exceeded,
                f"{row.account} would hold {position + row.quantity} t of {row.instrument} "
                f"({position} t held, bought or bid for, + {row.quantity} t), over its "
                f"position limit of {allowed} t",
                field="quantity",
            )

    def _hold(
        self,
        uow: VenueUnitOfWork,
        row: OrderRow,
        hold: Transfer,
        kind: str,
        actor: str,
        body: dict[str, Any],
    ) -> CommandResult:
        """Journal order `row` as `kind` with its hold; a refusal (the means are not there) is
        raised as the DomainError the order is rejected with."""
        (result,) = uow.submit([Command(kind, actor, body, (hold,))], row.at_us)
        if not result.ok:
            assert result.code is not None
            raise DomainError(result.code, result.message)
        return result

    def _buy_hold(self, price: int, quantity: int) -> int:
        value = price * quantity
        return value + side_fee(value, self.policy.fees.buyer_bps, self.policy.fees.min_fee_fen)

    def _refused(self, uow: VenueUnitOfWork, row: OrderRow, refused: DomainError) -> CommandResult:
        """Record the order as rejected. T+1: a sell that only today's purchases (delivered at
        the day's end) would cover is `units_not_yet_sellable`, not a plain shortfall."""
        code = refused.code
        short = code in (RejectCode.insufficient_units, RejectCode.units_encumbered)
        if row.side == Side.sell and short and uow.bought_unsettled(row.account, row.instrument):
            code = RejectCode.units_not_yet_sellable
        row.status, row.reason = "rejected", code.value
        uow.insert_order(row)
        return CommandResult(code, refused.message, field=refused.field)

    def _match(self, uow: VenueUnitOfWork, row: OrderRow, actor: str) -> None:
        """Match new order `row` (not stored yet) in its book; store it as it comes out."""
        book = self.books[row.instrument]
        order = Order(row.id, row.account, Side(row.side), row.price, row.quantity, row.quantity)
        outcome = book.submit(order)
        self._record_fills(uow, row, outcome.fills, actor)
        if outcome.cancelled:
            row.cancelled += outcome.cancelled
            row.reason = outcome.reason
            self._void(uow, row, outcome.cancelled, actor, outcome.reason or "cancelled")
        row.status = order_status(row, rested=outcome.rested)
        uow.insert_order(row)

    def _record_fills(
        self, uow: VenueUnitOfWork, taker: OrderRow, fills: tuple[Fill, ...], actor: str
    ) -> None:
        if not fills:
            return
        ordinal = uow.next_trade_ordinal()
        rows: list[TradeRow] = []
        fees = self.policy.fees
        budgets: dict[str, int] = {}  # buy order -> buyer fee its hold still has room for
        for fill in fills:
            maker = uow.order(fill.maker)
            assert maker is not None, f"resting order {fill.maker} has no row"
            maker.filled += fill.quantity
            maker.status = "filled" if fill.maker_remaining == 0 else "partially_filled"
            uow.save_order_state(maker)
            taker.filled += fill.quantity
            buyer, seller = (taker, maker) if taker.side == Side.buy else (maker, taker)
            value = fill.price * fill.quantity
            rows.append(
                TradeRow(
                    ordinal,
                    f"T{ordinal}",
                    taker.instrument,
                    taker.mode,
                    fill.buy_order,
                    fill.sell_order,
                    buyer.account,
                    seller.account,
                    fill.price,
                    fill.quantity,
                    self._buyer_fee(uow, buyer, value, budgets),
                    seller_fee(value, fees),
                    taker.day,
                    taker.at_us,
                )
            )
            ordinal += 1
        uow.insert_trades(rows)
        body = {
            "order": taker.id,
            "trades": [
                [r.id, r.buy_order, r.sell_order, r.price, r.quantity, r.buyer_fee, r.seller_fee]
                for r in rows
            ],
        }
        command = Command("fills", actor, body, self._advances(uow, rows, taker.at_us))
        (result,) = uow.submit([command], taker.at_us)
        assert result.ok, f"fills of {taker.id}: {result.code} {result.message}"

    def _advances(
        self, uow: VenueUnitOfWork, trades: list[TradeRow], at: int
    ) -> tuple[Transfer, ...]:
        """The clearing account's advance of each trade's net proceeds (value less the seller's
        fee) to the seller's fund account, made at the fill: sale proceeds can buy the same day
        (DOMAIN.md, T+1; they are withdrawable only from the next trading day, see
        `Registry.withdraw`). Settlement's `pay` leg repays it from the buyer's money."""
        advances = []
        for trade in trades:
            net = trade.price * trade.quantity - trade.seller_fee
            if not net:
                continue
            clearing, fund = self._accounts(
                uow, at, (EXCHANGE, Purpose.clearing, CASH), (trade.seller, Purpose.fund, CASH)
            )
            advances.append(
                self._move(
                    trade.id,
                    clearing,
                    fund,
                    net,
                    TransferCode.trade,
                    ref=trade.id,
                    transfer_id=TransferId(proceeds_id(trade.id)),
                )
            )
        return tuple(advances)

    def _buyer_fee(
        self, uow: VenueUnitOfWork, buy: OrderRow, value: int, budgets: dict[str, int]
    ) -> int:
        """The buyer's fee on a trade of `value`: the schedule's (basis points half-up, at least
        the minimum), but never more than what the buy order's hold still reserves for fees.
        The hold reserved one fee, on the order's whole value at its limit; fees charged trade
        by trade (each rounded, each at least the minimum) could add up to more, and settlement
        would then find the hold short. So a buyer never pays more in fees on an order than the
        order reserved: a trade that would take it over pays what is left."""
        fees = self.policy.fees
        if buy.id not in budgets:
            reserved = self._buy_hold(buy.price, buy.quantity) - buy.price * buy.quantity
            budgets[buy.id] = reserved - uow.buyer_fees(buy.id)
        charged = min(side_fee(value, fees.buyer_bps, fees.min_fee_fen), budgets[buy.id])
        budgets[buy.id] -= charged
        return charged

    def _void(
        self, uow: VenueUnitOfWork, row: OrderRow, quantity: int, actor: str, why: str
    ) -> None:
        """Release the hold on `quantity` of `row` (units, or their value at the order's price)."""
        hold = uow.hold(order_hold_id(row.id))
        assert hold is not None, f"order {row.id} has no hold"
        amount = quantity if row.side == Side.sell else quantity * row.price
        now = to_us(self.clock.now())
        row.closed_us = now
        void = self._on_hold(
            TransferId(f"order:{row.id}/void:{row.cancelled}"),
            hold,
            min(amount, hold.remaining),
            TransferCode.order,
            _VOID,
            row.id,
        )
        body = {"order": row.id, "quantity": quantity, "reason": why}
        (result,) = uow.submit([Command("order_cancelled", actor, body, (void,))], now)
        assert result.ok, f"voiding the hold of order {row.id}: {result.code} {result.message}"


def order_status(row: OrderRow, *, rested: bool) -> str:
    if row.filled == row.quantity:
        return "filled"
    if rested:
        return "partially_filled" if row.filled else "open"
    return "cancelled"
