"""The order book of one instrument: priority, prices, partial fills, cancels, picks, self-trades.

Every test builds a small book by hand and checks the fills, the outcome and what still rests, so
a rule that is skipped or applied twice shows.
"""

from __future__ import annotations

import pytest

from cets.domain.errors import DomainError, RejectCode
from cets.domain.trading import SELF_TRADE_PREVENTED, Book, Fill, Order, Outcome, Side

BUY, SELL = Side.buy, Side.sell


def order(oid: str, side: Side, price: int, quantity: int, account: str = "") -> Order:
    return Order(oid, account or f"acct-{oid}", side, price, quantity, quantity)


def book_with(*orders: Order) -> Book:
    book = Book("CEA-2024")
    for o in orders:
        outcome = book.submit(o)
        assert outcome.fills == () and outcome.rested, f"setup order {o.id} must rest"
    return book


def resting(book: Book) -> list[tuple[str, int]]:
    return [(o.id, o.remaining) for o in book.resting()]


def test_an_order_that_does_not_cross_rests_and_reports_no_fills() -> None:
    book = Book("CEA-2024")
    bid = order("b1", BUY, 6000, 100)
    assert book.submit(bid) == Outcome((), True, 0, None)
    assert book.submit(order("s1", SELL, 6001, 50)) == Outcome((), True, 0, None)
    assert (book.best_bid(), book.best_ask(), len(book)) == (6000, 6001, 2)
    assert book.get("b1") is bid
    assert bid.seq == 1 and book.get("s1").seq == 2  # type: ignore[union-attr]


def test_orders_at_one_price_fill_in_order_of_arrival() -> None:
    book = book_with(order("s1", SELL, 6000, 10), order("s2", SELL, 6000, 10))
    outcome = book.submit(order("b1", BUY, 6000, 10))
    assert [f.maker for f in outcome.fills] == ["s1"]
    assert resting(book) == [("s2", 10)]


def test_a_better_price_fills_before_an_earlier_arrival() -> None:
    book = book_with(order("s1", SELL, 6002, 10), order("s2", SELL, 6001, 10))
    outcome = book.submit(order("b1", BUY, 6005, 10))
    assert [(f.maker, f.price) for f in outcome.fills] == [("s2", 6001)]


def test_a_crossing_order_trades_at_the_resting_price_not_its_own() -> None:
    book = book_with(order("b1", BUY, 6010, 10))
    outcome = book.submit(order("s1", SELL, 5990, 10))
    assert outcome.fills == (Fill("b1", "s1", 6010, 10, "b1", "s1", 0, 0),)
    assert not outcome.rested and len(book) == 0


def test_a_partial_fill_leaves_the_maker_resting_with_the_rest_and_its_priority() -> None:
    book = book_with(order("s1", SELL, 6000, 30), order("s2", SELL, 6000, 5))
    outcome = book.submit(order("b1", BUY, 6000, 12))
    assert outcome.fills == (Fill("s1", "b1", 6000, 12, "b1", "s1", 18, 0),)
    assert resting(book) == [("s1", 18), ("s2", 5)]
    assert book.depth() == ([], [(6000, 23)])


def test_the_unfilled_part_of_a_crossing_order_rests_at_its_limit() -> None:
    book = book_with(order("s1", SELL, 6000, 10))
    taker = order("b1", BUY, 6003, 25)
    outcome = book.submit(taker)
    assert outcome.rested and outcome.cancelled == 0
    assert outcome.fills == (Fill("s1", "b1", 6000, 10, "b1", "s1", 0, 15),)
    assert (taker.remaining, book.best_bid(), book.best_ask()) == (15, 6003, None)


def test_a_sweep_takes_level_after_level_and_stops_at_the_limit() -> None:
    book = book_with(
        order("s1", SELL, 6000, 10),
        order("s2", SELL, 6001, 10),
        order("s3", SELL, 6001, 10),
        order("s4", SELL, 6002, 10),
        order("s5", SELL, 6003, 10),
    )
    outcome = book.submit(order("b1", BUY, 6002, 35))
    assert [(f.maker, f.price, f.quantity, f.taker_remaining) for f in outcome.fills] == [
        ("s1", 6000, 10, 25),
        ("s2", 6001, 10, 15),
        ("s3", 6001, 10, 5),
        ("s4", 6002, 5, 0),
    ]
    assert resting(book) == [("s4", 5), ("s5", 10)]
    assert not outcome.rested


def test_cancel_removes_a_resting_order_and_returns_it_with_its_remaining() -> None:
    book = book_with(order("s1", SELL, 6000, 30), order("s2", SELL, 6000, 5))
    book.submit(order("b1", BUY, 6000, 10))
    cancelled = book.cancel("s1")
    assert cancelled is not None and (cancelled.id, cancelled.remaining) == ("s1", 20)
    assert book.cancel("s1") is None
    assert book.cancel("never-seen") is None
    assert resting(book) == [("s2", 5)]
    assert book.depth() == ([], [(6000, 5)])


def test_a_cancelled_order_in_the_middle_of_a_level_never_trades() -> None:
    book = book_with(*(order(f"s{i}", SELL, 6000, 1) for i in range(5)))
    assert book.cancel("s2") is not None
    outcome = book.submit(order("b1", BUY, 6000, 4))
    assert [f.maker for f in outcome.fills] == ["s0", "s1", "s3", "s4"]
    assert len(book) == 0 and book.best_ask() is None


def test_cancelling_the_last_order_of_the_best_level_moves_the_best_price() -> None:
    book = book_with(order("b1", BUY, 6000, 10), order("b2", BUY, 5999, 10))
    book.cancel("b1")
    assert book.best_bid() == 5999
    book.cancel("b2")
    assert book.best_bid() is None and book.depth() == ([], [])


def test_many_cancels_in_one_level_keep_its_totals_and_order() -> None:
    book = book_with(*(order(f"b{i}", BUY, 6000, 1 + i % 3) for i in range(200)))
    for i in range(1, 199):
        if i % 7:
            assert book.cancel(f"b{i}") is not None
    left = [f"b{i}" for i in range(200) if i in (0, 199) or i % 7 == 0]
    assert [o.id for o in book.resting()] == left
    assert book.depth() == ([(6000, sum(1 + int(i[1:]) % 3 for i in left))], [])
    assert book.violations() == []


def test_self_trade_prevention_cancels_the_incoming_order_and_keeps_earlier_fills() -> None:
    book = book_with(
        order("s1", SELL, 6000, 10, account="A"),
        order("s2", SELL, 6000, 10, account="B"),
        order("s3", SELL, 6001, 10, account="C"),
    )
    taker = order("b1", BUY, 6001, 25, account="B")
    outcome = book.submit(taker)
    assert outcome.fills == (Fill("s1", "b1", 6000, 10, "b1", "s1", 0, 15),)
    assert (outcome.rested, outcome.cancelled, outcome.reason) == (False, 15, SELF_TRADE_PREVENTED)
    assert taker.remaining == 0 and book.get("b1") is None
    assert resting(book) == [("s2", 10), ("s3", 10)]  # the older order of B stands


def test_orders_of_one_account_that_do_not_cross_both_rest() -> None:
    book = book_with(
        order("b1", BUY, 5999, 10, account="A"), order("s1", SELL, 6000, 10, account="A")
    )
    assert len(book) == 2


def test_a_pick_takes_a_quote_at_its_price_within_the_best_five_levels() -> None:
    book = book_with(*(order(f"s{p}", SELL, p, 10) for p in range(6000, 6006)))
    taker = order("b1", BUY, 6004, 4)
    outcome = book.pick(taker, "s6004")  # the fifth level
    assert outcome == Outcome((Fill("s6004", "b1", 6004, 4, "b1", "s6004", 6, 0),), False, 0, None)
    assert book.get("s6004").remaining == 6  # type: ignore[union-attr]
    assert book.depth(levels=6)[1][4] == (6004, 6)


def test_a_pick_outside_the_best_five_levels_is_refused() -> None:
    book = book_with(*(order(f"b{p}", BUY, p, 10) for p in range(6000, 6006)))
    with pytest.raises(DomainError) as refused:
        book.pick(order("s1", SELL, 6000, 5), "b6000")  # the sixth level of the bids
    assert refused.value.code is RejectCode.quote_not_in_best_levels
    assert "level 6" in refused.value.message
    assert len(book) == 6 and book.get("b6000").remaining == 10  # type: ignore[union-attr]


def test_a_pick_larger_than_the_quote_fills_the_quote_and_cancels_the_rest() -> None:
    book = book_with(order("s1", SELL, 6000, 10), order("s2", SELL, 6000, 10))
    taker = order("b1", BUY, 6000, 25)
    outcome = book.pick(taker, "s2")
    assert outcome == Outcome((Fill("s2", "b1", 6000, 10, "b1", "s2", 0, 15),), False, 15, None)
    assert taker.remaining == 0 and book.get("b1") is None
    assert resting(book) == [("s1", 10)]
    assert book.violations() == []


def test_a_pick_of_an_unknown_quote_is_refused() -> None:
    book = book_with(order("s1", SELL, 6000, 10))
    with pytest.raises(DomainError) as refused:
        book.pick(order("b1", BUY, 6000, 5), "nope")
    assert refused.value.code is RejectCode.unknown_order


def test_a_pick_of_a_quote_on_the_pickers_own_side_is_refused() -> None:
    book = book_with(order("b1", BUY, 6000, 10))
    with pytest.raises(DomainError) as refused:
        book.pick(order("b2", BUY, 6000, 5), "b1")
    assert refused.value.code is RejectCode.invalid_field


def test_a_pick_of_ones_own_quote_is_cancelled_as_a_self_trade() -> None:
    book = book_with(order("s1", SELL, 6000, 10, account="A"))
    taker = order("b1", BUY, 6000, 4, account="A")
    assert book.pick(taker, "s1") == Outcome((), False, 4, SELF_TRADE_PREVENTED)
    assert resting(book) == [("s1", 10)] and taker.remaining == 0


def test_depth_sums_each_level_best_first_and_stops_at_the_asked_levels() -> None:
    book = book_with(
        order("b1", BUY, 5998, 10),
        order("b2", BUY, 5999, 5),
        order("b3", BUY, 5999, 7),
        order("b4", BUY, 5990, 1),
        order("s1", SELL, 6001, 3),
        order("s2", SELL, 6003, 4),
        order("s3", SELL, 6001, 2),
    )
    assert book.depth() == ([(5999, 12), (5998, 10), (5990, 1)], [(6001, 5), (6003, 4)])
    assert book.depth(levels=1) == ([(5999, 12)], [(6001, 5)])
    assert book.depth(levels=0) == ([], [])


def test_expire_all_returns_every_resting_order_and_empties_the_book() -> None:
    book = book_with(
        order("b1", BUY, 5998, 10),
        order("b2", BUY, 5999, 5),
        order("s1", SELL, 6001, 3),
        order("s2", SELL, 6001, 4),
    )
    book.cancel("s1")
    expired = book.expire_all()
    assert [(o.id, o.remaining) for o in expired] == [("b2", 5), ("b1", 10), ("s2", 4)]
    assert len(book) == 0 and book.depth() == ([], []) and list(book.resting()) == []
    assert book.submit(order("s3", SELL, 6000, 1)).rested  # the book still works afterwards
    assert book.violations() == []


def test_the_same_submissions_give_the_same_fills() -> None:
    def run() -> list[tuple[Fill, ...]]:
        book = Book("CEA-2024")
        out = []
        for i in range(300):
            side = BUY if (i * 7) % 3 else SELL
            price = 6000 + (i * 13) % 9 - 4
            out.append(book.submit(order(f"o{i}", side, price, 1 + (i * 5) % 11)).fills)
            if i % 4 == 0:
                book.cancel(f"o{i // 2}")
        return out

    first = run()
    assert any(first) and first == run()


def test_an_order_cannot_enter_a_book_twice() -> None:
    book = Book("CEA-2024")
    bid = order("b1", BUY, 6000, 10)
    book.submit(bid)
    with pytest.raises(AssertionError):
        book.submit(order("b1", BUY, 6000, 10))
    book.cancel("b1")
    with pytest.raises(AssertionError):
        book.submit(bid)  # its seq is set: it entered a book before
