"""`cets.adapters.importers.prices` on the real published files (../shared/data/cn-pilot-prices/),
on SQLite and PostgreSQL: how many bars, which dirt, exact values, repeatable, all or nothing.

The expected figures were worked out apart from the importer, from the raw cells with
`fractions.Fraction` (e.g. Hubei CSV: 1,852 rows, 1,649 with a volume above 0; the sums of their
volumes and amounts with the two swapped rows turned round), and by reading the dirty rows by eye.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from cets.adapters.importers.prices import (
    SCEEX_COLUMNS,
    ParsedPrices,
    PricesFileError,
    import_prices,
    load_bars,
    read_prices,
)
from cets.adapters.sql import tables as t
from cets.adapters.sql.bars import DailyBar, read_bars
from cets.adapters.sql.database import make_engine
from cets.adapters.sql.migrate import upgrade
from shared_data import shared_data

DATA = shared_data("cn-pilot-prices")
HUBEI_CSV = DATA / "hubei_daily_2014-2021.csv"
SCEEX_XLSX = DATA / "sceex_daily_quotes_20160701-20230724.xlsx"

# Hubei CSV: line numbers (the header is line 1) of each kind of dirt, read by eye.
HUBEI_DIRT = {
    "no_trade": 197,  # volume 0, the price of the day before repeated
    "no_trade_price_moved": 6,  # volume 0 with another price (2015-05-23: 53.62, twice 26.81)
    "volume_amount_swapped": 2,  # 2014-04-30 and 2016-02-04
    "price_implausible": 3,  # 2017-03-16 35.14, 2020-07-23 54.42, 2020-08-06 49.75: doubled
    "amount_implausible": 4,  # 2015-08-05, 2016-10-11, 2018-09-12: a digit more or less; 2017-06-13
}


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _bars(engine: Engine, instrument: str = "HBEA") -> list[DailyBar]:
    with engine.connect() as conn:
        return read_bars(conn, instrument)


def _by_day(bars: list[DailyBar]) -> dict[date, DailyBar]:
    return {bar.day: bar for bar in bars}


def test_the_hubei_csv_loads_1649_bars_and_counts_its_dirty_rows_by_kind(engine: Engine) -> None:
    result = import_prices(engine, HUBEI_CSV)

    parsed = result.parsed
    assert parsed.rows_read == 1852
    assert len(parsed.bars) == 1649
    assert (result.written.new, result.written.updated, result.written.unchanged) == (1649, 0, 0)
    assert {kind: len(rows) for kind, rows in parsed.dirt.items()} == HUBEI_DIRT
    assert parsed.dirty_rows == 212 == 1852 - 1649 + 2 + 3 + 4
    assert parsed.dirt["volume_amount_swapped"] == [30, 609]
    assert parsed.dirt["price_implausible"] == [880, 1692, 1702]
    assert parsed.dirt["amount_implausible"] == [487, 774, 938, 1248]
    bars = _bars(engine)
    assert len(bars) == 1649
    assert (bars[0].day, bars[-1].day) == (date(2014, 4, 2), date(2021, 3, 23))
    assert sum(b.volume_t for b in bars) == 75_742_670
    assert sum(b.amount_fen for b in bars) == 169_088_091_580
    # The published closes (half-up to the fen) less the three doubled ones put right.
    put_right = (3514 - 1757) + (5442 - 2779) + (4975 - 2547)
    assert sum(b.close_fen for b in bars) == 3_849_654 - put_right


def test_the_hubei_csv_values_are_exact_to_the_fen_and_the_tonne(engine: Engine) -> None:
    import_prices(engine, HUBEI_CSV)
    days = _by_day(_bars(engine))
    first = days[date(2014, 4, 2)]  # 21.0, 510020.0, 10710400.0
    assert first == DailyBar(
        "HBEA", date(2014, 4, 2), None, None, None, 2100, 510_020, 1_071_040_000,
        source=HUBEI_CSV.name,
    )  # fmt: skip
    assert days[date(2014, 4, 3)].close_fen == 2420  # 24.200000762939453
    assert days[date(2014, 4, 9)].close_fen == 2503  # 25.030000686645508
    assert days[date(2014, 4, 29)].close_fen == 2399  # 23.989999771118164
    # 2014-04-30: published volume 2034940.0, amount 83552.0 (83,552 t at 24.36 = 2,034,940 CNY).
    swapped = days[date(2014, 4, 30)]
    assert (swapped.close_fen, swapped.volume_t, swapped.amount_fen) == (2445, 83_552, 203_494_000)
    # 2016-02-04: volume 608651.875 (the float32 of the amount 608651.88), amount 26175.0.
    assert (days[date(2016, 2, 4)].volume_t, days[date(2016, 2, 4)].amount_fen) == (
        26_175,
        60_865_188,
    )
    # 2017-03-16: 35.14 published, 134077.4375 / 7632 t = 17.5678... -> 17.57.
    assert days[date(2017, 3, 16)].close_fen == 1757
    # 2015-08-05: amount 385152 for 1783 t at 21.39: kept as published (flagged).
    kept = days[date(2015, 8, 5)]
    assert (kept.close_fen, kept.volume_t, kept.amount_fen) == (2139, 1783, 38_515_200)
    # A day without trade is no bar (2014-04-05, Saturday, volume 0 at the last price).
    assert date(2014, 4, 5) not in days
    assert days[date(2021, 3, 23)].amount_fen == 350_800
    assert all(b.open_fen is b.high_fen is b.low_fen is None for b in days.values())


def test_importing_the_same_file_again_changes_nothing(engine: Engine) -> None:
    import_prices(engine, HUBEI_CSV)
    before = _bars(engine)

    again = import_prices(engine, HUBEI_CSV)

    assert (again.written.new, again.written.updated, again.written.unchanged) == (0, 0, 1649)
    assert _bars(engine) == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.daily_bars)).scalar_one() == 1649


def test_the_sceex_workbook_gives_hubei_1007_bars_and_its_known_dirt(engine: Engine) -> None:
    result = import_prices(engine, SCEEX_XLSX, market="HBEA")

    parsed = result.parsed
    assert parsed.rows_read == 12408
    assert len(parsed.bars) == result.written.new == 1007  # the HBEA rows with volume and amount
    assert parsed.other_instruments == 11285
    dirt = {kind: len(rows) for kind, rows in parsed.dirt.items()}
    assert dirt["no_trade"] == 27
    assert dirt["incomplete"] == 9  # 6 blank, 3 with prices but "-" for volume and amount
    assert dirt["blank_date"] == 45
    assert dirt["not_a_pilot_market"] == 7  # ECX/EEX quotes mixed in
    assert dirt["exchange_mismatch"] == 1  # row 9839: Beijing's exchange, product HBEA, 15.00
    assert dirt["ohlc_inconsistent"] == 21
    assert dirt["average_outside_range"] == 86
    bars = _bars(engine)
    assert sum(b.volume_t for b in bars) == 43_471_092
    assert sum(b.amount_fen for b in bars) == 112_260_654_531
    assert sum(b.open_fen is not None for b in bars) == 960  # 981 full ranges less 21 broken
    days = _by_day(bars)
    # 2023-07-24: 48.49 48.49 46.07, average 49.84 (above the high: block trades), 22127 t.
    last = days[date(2023, 7, 24)]
    assert (last.open_fen, last.high_fen, last.low_fen, last.close_fen) == (4849, 4849, 4607, 4849)
    assert (last.volume_t, last.amount_fen) == (22_127, 110_281_884)
    assert days[date(2018, 1, 29)].close_fen == 1493  # the row with Beijing's exchange name
    # 2021-09-07: open "43096.00" (for 43.96?) and no average: no range, close 72463.56 / 1798.
    assert days[date(2021, 9, 7)].candle() == (4030, 4030, 4030, 4030)


def test_the_whole_workbook_loads_every_pilot_market(sqlite_url: str) -> None:
    parsed = read_prices(SCEEX_XLSX)

    counts: dict[str, int] = {}
    for bar in parsed.bars:
        counts[bar.instrument] = counts.get(bar.instrument, 0) + 1
    assert len(parsed.bars) == 6898
    assert counts["HBEA"] == 1007
    assert counts["GDEA"] == 1009
    assert sorted(counts) == [
        "BEA", "CQEA-1", "FJEA", "GDEA", "HBEA", "SHEA", "SZA2013", "SZA2014", "SZA2015",
        "SZA2016", "SZA2017", "SZA2018", "SZA2019", "SZA2020", "SZEA", "TJEA", "TJEA16",
    ]  # fmt: skip
    days = {(b.instrument, b.day): b for b in parsed.bars}
    # The last row: SZA-2015 on 2016-07-21, volume "10000 t".
    assert parsed.dirt["volume_with_unit"] == [12409]
    assert days["SZA2015", date(2016, 7, 21)].volume_t == 10_000
    # CQEA-1 2017-08-29: 50 t for 25.00 CNY at an average of 2.00: volume and amount swapped.
    assert parsed.dirt["volume_amount_swapped"] == [10982]
    assert days["CQEA-1", date(2017, 8, 29)].volume_t == 25
    # Volumes that are prices copied (32.10 t): skipped, not rounded.
    assert parsed.dirt["volume_not_whole"] == [9532, 10790, 11356, 12325]
    engine = make_engine(sqlite_url)
    upgrade(engine)
    try:
        assert load_bars(engine, parsed).new == 6898
    finally:
        engine.dispose()


def test_a_later_file_updates_the_days_it_shares_with_an_earlier_one(engine: Engine) -> None:
    import_prices(engine, HUBEI_CSV)

    later = import_prices(engine, SCEEX_XLSX, market="HBEA")

    assert (later.written.new, later.written.updated) == (292, 715)
    bars = _bars(engine)
    assert len(bars) == 1649 + 292
    assert (bars[0].day, bars[-1].day) == (date(2014, 4, 2), date(2023, 7, 24))
    assert _by_day(bars)[date(2018, 9, 12)].source == SCEEX_XLSX.name


def test_an_import_the_database_refuses_leaves_nothing_behind(engine: Engine) -> None:
    parsed = read_prices(HUBEI_CSV)
    broken = parsed.bars[-1]
    object.__setattr__(broken, "close_fen", 0)  # past the dataclass's own check: the DB's CHECK

    with pytest.raises(IntegrityError):
        load_bars(engine, parsed)

    assert _bars(engine) == []


# -- small files made here, one kind of dirt at a time ------------------------------------------

HEADER = ",日期,成交价,成交量,成交额,地点\n"


def _csv(tmp_path: Path, body: str) -> ParsedPrices:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return read_prices(path)


def test_unreadable_rows_duplicates_and_unknown_places_are_counted_not_loaded(
    tmp_path: Path,
) -> None:
    parsed = _csv(
        tmp_path,
        "0,2020-01-02,30.0,100.0,3000.0,湖北\n"
        "1,2020-01-02,31.0,100.0,3100.0,湖北\n"  # the same day again
        "2,2020-01-03,abc,100.0,3000.0,湖北\n"
        "3,2020-13-01,30.0,100.0,3000.0,湖北\n"
        "4,2020-01-06,30.0,100.0,3000.0,火星\n"
        "5,2020-01-07,30.5,100.0,3050.0,广东\n"
        "6,,,,,\n",
    )

    assert parsed.rows_read == 7
    assert [(b.instrument, b.day, b.close_fen) for b in parsed.bars] == [
        ("HBEA", date(2020, 1, 2), 3000),
        ("GDEA", date(2020, 1, 7), 3050),
    ]
    assert parsed.dirt == {
        "duplicate": [3],
        "unparsable": [4, 5],
        "unknown_market": [6],
        "empty_row": [8],
    }


def test_a_market_chosen_leaves_the_others_out_and_says_how_many(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HEADER + "0,2020-01-02,30.0,100.0,3000.0,湖北\n1,2020-01-02,30.5,1,30.5,广东\n")

    parsed = read_prices(path, market="gdea")

    assert [b.instrument for b in parsed.bars] == ["GDEA"]
    assert parsed.other_instruments == 1


def test_a_file_that_cannot_be_read_names_the_file_and_the_row(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("date,price\n2020-01-02,30\n", encoding="utf-8")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(HEADER.encode() + b"0,2020-01-02,30.0,100.0,3000.0,\xba\xfe\xb1\xb1\n")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")

    with pytest.raises(PricesFileError, match=r"wrong\.csv: line 1: expected the columns 日期"):
        read_prices(wrong)
    with pytest.raises(PricesFileError, match=r"latin\.csv: line 2: not UTF-8"):
        read_prices(latin)
    with pytest.raises(PricesFileError, match=r"broken\.xlsx: not a readable \.xlsx"):
        read_prices(broken)
    with pytest.raises(PricesFileError, match=r"absent\.csv: no such file"):
        read_prices(tmp_path / "absent.csv")


def test_a_workbook_row_by_row_dirt_and_corrections(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(SCEEX_COLUMNS))
    hubei = "湖北碳排放权交易中心"
    sheet.append(
        ["2020-01-02", hubei, "HBEA", "30.00", "31.00", "29.00", "30.50", "1,000", "30500.00"]
    )
    sheet.append(["2020-01-03", hubei, "HBEA", "-", "-", "-", "-", "-", "-"])
    sheet.append(
        ["2020-01-06", hubei, "HBEA", "30.00", "31.00", "29.00", "32.00", "100", "3200.00"]
    )
    sheet.append(
        ["2020-01-07", hubei, "HBEA", "32.00", "31.00", "29.00", "30.00", "100", "3000.00"]
    )
    sheet.append(["2020-01-08", hubei, "HBEA", "30.00", "-", "", "30.00", "100", "3000.00"])
    sheet.append(["", hubei, "HBEA", "30.00", "31.00", "29.00", "30.00", "100", "3000.00"])
    sheet.append(["2020-01-09", "欧洲气候交易所", "ECX-EUA(Dec18)", "", "", "", "", "8654", ""])
    sheet.append(["2020-01-10", hubei, "HBEA", 30, 31, 29, 30.25, 200, 6050])  # numeric cells
    path = tmp_path / "quotes.xlsx"
    book.save(path)

    parsed = read_prices(path)

    days = {b.day: b for b in parsed.bars}
    assert days[date(2020, 1, 2)].volume_t == 1000
    assert date(2020, 1, 3) not in days
    assert days[date(2020, 1, 6)].candle() == (3000, 3100, 2900, 3100)  # 32.00 held to the high
    assert days[date(2020, 1, 7)].candle() == (3000, 3000, 3000, 3000)  # open above high: no range
    assert days[date(2020, 1, 8)].open_fen is None
    assert days[date(2020, 1, 10)].candle() == (3000, 3100, 2900, 3025)
    assert days[date(2020, 1, 10)].amount_fen == 605_000
    assert parsed.dirt == {
        "volume_with_unit": [2],
        "no_trade": [3],
        "average_outside_range": [4],
        "ohlc_inconsistent": [5],
        "partial_ohlc": [6],
        "blank_date": [7],
        "not_a_pilot_market": [8],
    }
