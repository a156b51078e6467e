"""Published daily quotes of the Chinese pilot carbon markets, read into daily bars.

Two formats (../shared/data/SOURCES.md):
- the tanjiaoyi/akshare CSV (`日期, 成交价, 成交量, 成交额, 地点`): one price (the close), volume
  and amount per calendar day; days without trade repeat the last price with volume 0. The place
  names the market (湖北 -> HBEA). Bars get a close only (open/high/low NULL).
- the SCEEX workbook (`交易日期, 交易机构, 交易品种, 开盘价, 最高价, 最低价, 成交均价, 成交量,
  成交金额`), every pilot market: the product column names the instrument (`SZA-2014` ->
  `SZA2014`); `-` means no trade. It publishes no close: the day's average price (amount /
  volume, the national rule's close too) stands in, held to the day's range when block trades
  pushed it outside. The first sheet with that header is read (the workbook's other sheets are
  per-market extracts of it).

Invariants: a float never touches a price, volume or amount (cells are read as text into Decimal;
prices and amounts half-up to the fen, volumes to the tonne, which also strips the float32 noise
of `24.200000762939453`); every row read is a bar or is counted under a kind of `DIRT` with its
row number (never a silent drop, never a crash on a bad row); one bar per instrument and day (the
first row wins); an import is one transaction, and repeating it changes nothing.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum
from pathlib import Path

from sqlalchemy import Engine

from cets.adapters.sql.bars import DailyBar, WriteCounts, write_bars
from cets.adapters.sql.database import WRITER

Progress = Callable[[int, int | None], None]  # (rows done, rows in all if known)

# kind -> what it is and what the importer did with the row.
DIRT: dict[str, str] = {
    "no_trade": "no trade that day (volume 0 or '-'): not a bar",
    "no_trade_price_moved": "volume 0 but a price unlike the day before's: not a bar",
    "volume_amount_swapped": "volume and amount swapped: swapped back",
    "price_implausible": "price far from amount/volume and the last close: close = amount/volume",
    "amount_implausible": "amount/volume far from the price: kept as published",
    "volume_not_whole": "volume with a fraction (a price or amount in its cell): skipped",
    "volume_with_unit": "number written with a unit or separators ('10000 t'): read as a number",
    "average_missing": "no average price: amount/volume taken",
    "partial_ohlc": "open/high/low only partly given: dropped, the rest kept",
    "ohlc_inconsistent": "open outside low..high, or low above high: range dropped, the rest kept",
    "average_outside_range": "average outside low..high (block trades): close held to the range",
    "exchange_mismatch": "exchange and product name different markets: imported as the product",
    "duplicate": "a second row for the same instrument and day: skipped, the first kept",
    "blank_date": "no date: skipped",
    "missing_product": "no product code: skipped",
    "not_a_pilot_market": "a product of no Chinese pilot market (EU quotes mixed in): skipped",
    "unknown_market": "a place no pilot market is named after: skipped",
    "incomplete": "volume or amount missing: skipped",
    "unparsable": "a field that is not a date or number: skipped",
    "empty_row": "nothing in the row: skipped",
}
# A day's average price (amount / volume) and its close differ by the price band at most (pilot
# markets: +-10% listed, +-30% agreement trades); clean Hubei days stay within 1.35x, the dirty
# ones are 1.9x to 600x off. So "near" is within a factor of 1.5.
NEAR = Decimal("1.5")
CSV_COLUMNS = ("日期", "成交价", "成交量", "成交额", "地点")
SCEEX_COLUMNS: tuple[str, ...] = ("交易日期", "交易机构", "交易品种", "开盘价", "最高价")
SCEEX_COLUMNS += ("最低价", "成交均价", "成交量", "成交金额")
PLACES = {"湖北": "HBEA", "广东": "GDEA", "深圳": "SZEA", "上海": "SHEA", "北京": "BEA"}
PLACES |= {"天津": "TJEA", "重庆": "CQEA", "福建": "FJEA"}
EXCHANGES = {
    "湖北碳排放权交易中心": "HBEA",
    "广州碳排放权交易所": "GDEA",
    "上海环境能源交易所": "SHEA",
    "北京环境交易所": "BEA",
    "北京绿色交易所": "BEA",  # Beijing's exchange renamed (2020)
    "天津排放权交易所": "TJEA",
    "重庆碳排放权交易中心": "CQEA",
    "福建海峡交易中心": "FJEA",
    "海峡股权交易中心": "FJEA",
    "深圳排放权交易所": "SZ",
}
PILOT_PRODUCT = re.compile(r"(HBEA|GDEA|SHEA|BEA|TJEA|CQEA|FJEA|SZEA|SZA)(\d*|-\d+)")
NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)")
UNIT = re.compile(r"\s*(t|吨)$", re.IGNORECASE)


class PricesFileError(Exception):
    """The file cannot be read at all (missing, not the format, no header); names file and row."""


class Cell(Enum):
    BLANK = "blank"  # empty cell
    DASH = "dash"  # "-": no trade
    BAD = "bad"  # not a number


@dataclass
class ParsedPrices:
    path: Path
    kind: str  # "csv" | "sceex"
    rows_read: int = 0
    bars: list[DailyBar] = field(default_factory=list)
    dirt: dict[str, list[int]] = field(default_factory=dict)  # kind -> row numbers
    other_instruments: int = 0  # rows of instruments other than the one asked for

    def flag(self, kind: str, row: int) -> None:
        assert kind in DIRT, kind
        self.dirt.setdefault(kind, []).append(row)

    @property
    def dirty_rows(self) -> int:
        return len({row for rows in self.dirt.values() for row in rows})


@dataclass(frozen=True)
class ImportResult:
    parsed: ParsedPrices
    written: WriteCounts


def import_prices(
    engine: Engine, path: Path, *, market: str | None = None, progress: Progress | None = None
) -> ImportResult:
    """Read `path` and write its bars in one transaction: all or nothing, repeatable."""
    parsed = read_prices(path, market=market, progress=progress)
    return ImportResult(parsed, load_bars(engine, parsed))


def load_bars(engine: Engine, parsed: ParsedPrices) -> WriteCounts:
    """Write what `read_prices` found in one transaction (SQLite: as the one writer)."""
    with engine.connect().execution_options(**{WRITER: True}) as conn, conn.begin():
        return write_bars(conn, parsed.bars)


def read_prices(
    path: Path, *, market: str | None = None, progress: Progress | None = None
) -> ParsedPrices:
    """The bars and the dirt of a CSV or SCEEX workbook; `market` keeps one instrument only."""
    market = market.strip().upper() if market else None
    if not path.is_file():
        raise PricesFileError(f"{path}: no such file")
    with path.open("rb") as head:
        is_zip = head.read(4) == b"PK\x03\x04"
    if is_zip or path.suffix.lower() == ".xlsx":
        return _read_sceex(path, market, progress or _quiet)
    return _read_csv(path, market, progress or _quiet)


def _quiet(_done: int, _total: int | None) -> None:
    pass


# -- numbers ------------------------------------------------------------------------------------


def _fen(value: Decimal) -> int:
    return int((value * 100).quantize(Decimal(1), ROUND_HALF_UP))


def _tonnes(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def _near(value: Decimal, reference: Decimal) -> bool:
    return reference > 0 and reference / NEAR <= value <= reference * NEAR


def _cell(value: object) -> tuple[Decimal | Cell, bool]:
    """A cell as a number (or BLANK / DASH / BAD), and whether it needed a unit or separators
    taken off. Numeric cells from a spreadsheet come through their shortest text form."""
    if value is None:
        return Cell.BLANK, False
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = repr(value)
    text = str(value).strip()
    if not text:
        return Cell.BLANK, False
    if text in {"-", "--"}:
        return Cell.DASH, False
    cleaned = UNIT.sub("", text).replace(",", "")
    if not NUMBER.fullmatch(cleaned):
        return Cell.BAD, False
    return Decimal(cleaned), cleaned != text


def _day(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        return None


# -- the CSV ------------------------------------------------------------------------------------


@dataclass
class _Seen:
    keys: set[tuple[str, date]] = field(default_factory=set)
    last_close: dict[str, Decimal] = field(default_factory=dict)  # last bar's close, yuan
    last_price: dict[str, Decimal] = field(default_factory=dict)  # the row before's price


def _read_csv(path: Path, market: str | None, progress: Progress) -> ParsedPrices:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PricesFileError(f"{path}: line {line}: not UTF-8 text ({exc.reason})") from exc
    reader = csv.reader(io.StringIO(text))
    header = [name.strip() for name in next(reader, [])]
    if not set(CSV_COLUMNS) <= set(header):
        raise PricesFileError(
            f"{path}: line 1: expected the columns {', '.join(CSV_COLUMNS)}; "
            f"found {', '.join(header) or 'nothing'}"
        )
    at = [header.index(name) for name in CSV_COLUMNS]
    total = text.count("\n") - 1
    parsed, seen = ParsedPrices(path, "csv"), _Seen()
    try:
        for row in reader:
            parsed.rows_read += 1
            cells = [row[i] if i < len(row) else "" for i in at]
            _csv_row(parsed, seen, reader.line_num, cells, market)
            if parsed.rows_read % 100 == 0:
                progress(parsed.rows_read, total)
    except csv.Error as exc:  # e.g. a NUL byte: the rest of the file cannot be split into rows
        raise PricesFileError(f"{path}: line {reader.line_num + 1}: {exc}") from exc
    progress(parsed.rows_read, parsed.rows_read)
    return parsed


def _csv_row(
    parsed: ParsedPrices, seen: _Seen, line: int, cells: list[str], market: str | None
) -> None:
    if not any(c.strip() for c in cells):
        parsed.flag("empty_row", line)
        return
    day = _day(cells[0])
    read = [_cell(c) for c in cells[1:4]]
    price, volume, amount = (n if isinstance(n, Decimal) else Decimal(-1) for n, _ in read)
    if day is None or price <= 0 or volume < 0 or amount < 0:
        parsed.flag("unparsable", line)
        return
    if any(unit for _, unit in read):
        parsed.flag("volume_with_unit", line)
    instrument = PLACES.get(cells[4].strip())
    if instrument is None:
        parsed.flag("unknown_market", line)
        return
    if market is not None and instrument != market:
        parsed.other_instruments += 1
        return
    if (instrument, day) in seen.keys:
        parsed.flag("duplicate", line)
        return
    seen.keys.add((instrument, day))
    last, before = seen.last_close.get(instrument), seen.last_price.get(instrument)
    seen.last_price[instrument] = price
    if volume == 0 or amount == 0:
        if volume != amount:
            parsed.flag("incomplete", line)
        elif before is None or _fen(price) == _fen(before):
            parsed.flag("no_trade", line)
        else:
            parsed.flag("no_trade_price_moved", line)
        return
    close = price
    if not _near(amount / volume, price):
        if _near(volume / amount, price):
            parsed.flag("volume_amount_swapped", line)
            volume, amount = amount, volume
        elif last is not None and not _near(price, last) and _near(amount / volume, last):
            parsed.flag("price_implausible", line)
            close = amount / volume
        else:
            parsed.flag("amount_implausible", line)
    bar = _bar(parsed, line, instrument, day, None, close, volume, amount)
    if bar is not None:
        seen.last_close[instrument] = Decimal(bar.close_fen) / 100


def _bar(
    parsed: ParsedPrices,
    row: int,
    instrument: str,
    day: date,
    ohlc: tuple[int, int, int] | None,
    close: Decimal,
    volume: Decimal,
    amount: Decimal,
) -> DailyBar | None:
    """Append the bar (its range already checked), or flag why not: a price that rounds to
    nothing, a volume with a fraction (volumes are whole tonnes: the cell holds something else)."""
    if _fen(close) <= 0 or (ohlc is not None and min(ohlc) <= 0):
        parsed.flag("unparsable", row)
        return None
    if volume != volume.to_integral_value():
        parsed.flag("volume_not_whole", row)
        return None
    open_fen, high_fen, low_fen = ohlc if ohlc is not None else (None, None, None)
    bar = DailyBar(
        instrument,
        day,
        open_fen,
        high_fen,
        low_fen,
        _fen(close),
        _tonnes(volume),
        _fen(amount),
        source=parsed.path.name[:64],
    )
    parsed.bars.append(bar)
    return bar


# -- the SCEEX workbook -------------------------------------------------------------------------


def _sceex_rows(path: Path) -> Iterator[tuple[int, int | None, Sequence[object]]]:
    """(row number, rows in the sheet, cells) of the first sheet with the SCEEX header."""
    import openpyxl  # noqa: PLC0415 (only workbooks need it; it takes a moment to import)

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise PricesFileError(f"{path}: not a readable .xlsx workbook ({exc})") from exc
    try:
        for sheet in book.worksheets:
            rows = sheet.iter_rows(values_only=True)
            header = tuple(str(c or "").strip() for c in next(rows, ()))
            if header[: len(SCEEX_COLUMNS)] != SCEEX_COLUMNS:
                continue
            total = sheet.max_row - 1 if sheet.max_row else None
            number = 1
            try:
                for number, cells in enumerate(rows, start=2):
                    yield number, total, cells
            except (zipfile.BadZipFile, KeyError, ValueError, SyntaxError) as exc:
                # A damaged sheet (XML parse errors are SyntaxErrors): stop at the row reached.
                raise PricesFileError(f"{path}: row {number + 1}: unreadable ({exc})") from exc
            return
        raise PricesFileError(f"{path}: row 1: no sheet has the columns {', '.join(SCEEX_COLUMNS)}")
    finally:
        book.close()


def _read_sceex(path: Path, market: str | None, progress: Progress) -> ParsedPrices:
    parsed, seen = ParsedPrices(path, "sceex"), _Seen()
    for number, total, cells in _sceex_rows(path):
        parsed.rows_read += 1
        padded = [*cells[: len(SCEEX_COLUMNS)], *[None] * len(SCEEX_COLUMNS)]
        _sceex_row(parsed, seen, number, padded[: len(SCEEX_COLUMNS)], market)
        if parsed.rows_read % 500 == 0:
            progress(parsed.rows_read, total)
    progress(parsed.rows_read, parsed.rows_read)
    return parsed


def _instrument(exchange: str, product: str) -> tuple[str | None, str | None]:
    """(instrument, None) or (None, the kind of dirt that leaves the row without one)."""
    if product in {"", "#N/A"}:
        foreign = exchange and exchange not in EXCHANGES
        return None, "not_a_pilot_market" if foreign else "missing_product"
    code = re.sub(r"^([A-Z]+)-(\d{4})$", r"\1\2", product.upper())
    match = PILOT_PRODUCT.fullmatch(code)
    if match is None:
        return None, "not_a_pilot_market"
    return code, None


def _sceex_row(
    parsed: ParsedPrices, seen: _Seen, row: int, cells: list[object], market: str | None
) -> None:
    if all(_cell(c)[0] is Cell.BLANK for c in cells):
        parsed.flag("empty_row", row)
        return
    if _cell(cells[0])[0] is Cell.BLANK:
        parsed.flag("blank_date", row)
        return
    day = _day(cells[0])
    exchange, product = (str(c or "").strip() for c in cells[1:3])
    instrument, problem = _instrument(exchange, product)
    if day is None or instrument is None:
        parsed.flag(problem or "unparsable", row)
        return
    if market is not None and instrument != market:
        parsed.other_instruments += 1
        return
    family = EXCHANGES.get(exchange)
    if family is not None and not instrument.startswith(family):
        parsed.flag("exchange_mismatch", row)
    if (instrument, day) in seen.keys:
        parsed.flag("duplicate", row)
        return
    seen.keys.add((instrument, day))
    read = [_cell(c) for c in cells[3:9]]
    if any(unit for _, unit in read):
        parsed.flag("volume_with_unit", row)
    _sceex_values(parsed, row, instrument, day, [value for value, _ in read])


def _sceex_values(
    parsed: ParsedPrices, row: int, instrument: str, day: date, values: list[Decimal | Cell]
) -> None:
    """open, high, low, average, volume, amount -> a bar, or the kind of dirt that skips it."""
    if Cell.BAD in values:
        parsed.flag("unparsable", row)
        return
    numbers = [v for v in values if isinstance(v, Decimal)]
    volume, amount = values[4], values[5]
    if not numbers or (volume == 0 and amount == 0):
        parsed.flag("no_trade" if set(values) == {Cell.DASH} or numbers else "incomplete", row)
        return
    if not (isinstance(volume, Decimal) and isinstance(amount, Decimal)) or min(numbers) <= 0:
        parsed.flag("incomplete", row)
        return
    average = values[3]
    if not isinstance(average, Decimal):
        parsed.flag("average_missing", row)
        average = amount / volume
    elif not _near(amount / volume, average) and _near(volume / amount, average):
        parsed.flag("volume_amount_swapped", row)
        volume, amount = amount, volume
    elif not _near(amount / volume, average):
        parsed.flag("amount_implausible", row)
    ohlc = _range(parsed, row, values[:3])
    close = average
    if ohlc is not None and not ohlc[2] <= _fen(average) <= ohlc[1]:
        parsed.flag("average_outside_range", row)
        close = Decimal(min(max(_fen(average), ohlc[2]), ohlc[1])) / 100
    _bar(parsed, row, instrument, day, ohlc, close, volume, amount)


def _range(
    parsed: ParsedPrices, row: int, values: list[Decimal | Cell]
) -> tuple[int, int, int] | None:
    """(open, high, low) in fen; None when not all three are given or they contradict each
    other (which of them is wrong cannot be told: `43096.00` for 43.96 is in the data)."""
    given = [v for v in values if isinstance(v, Decimal)]
    if len(given) < 3:
        if given or Cell.BLANK in values:
            parsed.flag("partial_ohlc", row)
        return None
    open_fen, high_fen, low_fen = (_fen(v) for v in given)
    if not low_fen <= open_fen <= high_fen:
        parsed.flag("ohlc_inconsistent", row)
        return None
    return open_fen, high_fen, low_fen
