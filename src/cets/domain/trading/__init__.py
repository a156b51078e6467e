"""Trading: the order book of one instrument and the values it takes in and gives out."""

from cets.domain.trading.book import BEST_LEVELS, Book
from cets.domain.trading.orders import SELF_TRADE_PREVENTED, Fill, Order, Outcome, Side

__all__ = ["BEST_LEVELS", "SELF_TRADE_PREVENTED", "Book", "Fill", "Order", "Outcome", "Side"]
