"""Settlement of the day's trades: delivery versus payment, one linked chain per trade (the
seller's units out of its order hold to the buyer, the buyer's money out of its order hold to the
seller, each fee its own leg to the exchange's fee account)."""

from __future__ import annotations

from cets.domain.ids import TransferId
from cets.domain.ledger.model import Account, Hold, Purpose, Transfer, TransferCode, TransferFlags
from cets.domain.registry.holders import EXCHANGE
from cets.domain.units import CASH
from cets.service.ports import Command, TradeRow
from cets.service.venue_base import VenueBase, VenueUnitOfWork, order_hold_id

_PENDING = TransferFlags.PENDING
_VOID = TransferFlags.VOID_PENDING


class Settlement:
    """The transfers that settle trades, one linked chain per trade (delivery versus payment):
    the seller's units out of its order hold to the buyer, the buyer's money out of its order
    hold to the seller, each fee its own leg to the exchange's fee account. What a hold still has
    is tracked here across the day's trades, so a buyer's fee the hold no longer covers (a
    minimum fee charged on several fills) is taken from its free funds instead."""

    def __init__(self, exchange: VenueBase, uow: VenueUnitOfWork, now: int) -> None:
        self.exchange = exchange
        self.uow = uow
        self.now = now
        self.remaining: dict[str, int] = {}

    def _hold(self, order_id: str) -> Hold:
        hold = self.uow.hold(order_hold_id(order_id))
        assert hold is not None, f"order {order_id} has no hold"
        self.remaining.setdefault(hold.id, hold.remaining)
        return hold

    def _post(self, tid: str, hold: Hold, amount: int, ref: str) -> Transfer:
        self.remaining[hold.id] -= amount
        return self.exchange._on_hold(
            TransferId(tid), hold, amount, TransferCode.trade, TransferFlags.POST_PENDING, ref
        )

    def _leg(
        self, tid: str, debit: Account, credit: Account, amount: int, code: str, ref: str
    ) -> Transfer:
        """A plain transfer of the settlement chain, with its own id."""
        return self.exchange._move(
            tid, debit, credit, amount, code, ref=ref, transfer_id=TransferId(tid)
        )

    def chain(self, trade: TradeRow) -> Command:
        """The linked chain that settles `trade`: units and money, then each fee's leg."""
        units, money = self._hold(trade.sell_order), self._hold(trade.buy_order)
        value = trade.price * trade.quantity
        unit_transit, cash_transit, fees, buyer_units, seller_fund = self.exchange._accounts(
            self.uow,
            self.now,
            (EXCHANGE, Purpose.in_transit, trade.instrument),
            (EXCHANGE, Purpose.in_transit, CASH),
            (EXCHANGE, Purpose.fees, CASH),
            (trade.buyer, Purpose.holding, trade.instrument),
            (trade.seller, Purpose.fund, CASH),
        )
        tid, ref, trade_code = f"settle:{trade.id}", trade.id, TransferCode.trade
        legs = [
            self._post(f"{tid}/units", units, trade.quantity, ref),
            self._leg(f"{tid}/deliver", unit_transit, buyer_units, trade.quantity, trade_code, ref),
            self._post(f"{tid}/funds", money, value, ref),
            self._leg(f"{tid}/pay", cash_transit, seller_fund, value, trade_code, ref),
        ]
        if trade.buyer_fee:
            # From what the buy order holds; what it no longer covers, from free funds.
            from_hold = min(trade.buyer_fee, self.remaining[money.id])
            if from_hold:
                legs.append(self._post(f"{tid}/buyer-fee-held", money, from_hold, ref))
                legs.append(
                    self._leg(
                        f"{tid}/buyer-fee", cash_transit, fees, from_hold, TransferCode.fee, ref
                    )
                )
            if trade.buyer_fee > from_hold:
                rest = trade.buyer_fee - from_hold
                buyer_fund = self.exchange._existing(
                    self.uow, trade.buyer, Purpose.fund, CASH, rest
                )
                legs.append(
                    self._leg(
                        f"{tid}/buyer-fee-free", buyer_fund, fees, rest, TransferCode.fee, ref
                    )
                )
        if trade.seller_fee:
            legs.append(
                self._leg(
                    f"{tid}/seller-fee", seller_fund, fees, trade.seller_fee, TransferCode.fee, ref
                )
            )
        body = {
            "trade": trade.id,
            "buyer": trade.buyer,
            "seller": trade.seller,
            "instrument": trade.instrument,
            "price": trade.price,
            "quantity": trade.quantity,
            "buyer_fee": trade.buyer_fee,
            "seller_fee": trade.seller_fee,
        }
        return Command("settle_trade", EXCHANGE, body, tuple(legs))
