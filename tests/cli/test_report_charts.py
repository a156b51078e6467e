"""`cets report`: PNG charts of K-lines and of a compliance year.

The drawing functions are checked on bars and entities made here (the colour of an up, a down
and a flat bar, read back from the PNG's pixels; which entities are drawn); the commands end to
end on the demo database (`tests/scenarios/demo.yaml`: CEA-2023 down on 2024-03-04, 60.20 to
60.15, flat on 2024-03-05 at 60.40; for 2023 E1 allocated 150,000 t and emitting 40,000 t, status
A, E2 allocated 30,000 t and emitting 130,000 t, status B)."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from cets import entrypoints
from cets.adapters.sql.store import SqlStore
from cets.domain.marketdata.klines import Bar, Interval
from cets.domain.policy import Policy
from cets.domain.trading.calendar import TradingCalendar
from cets.entrypoints import market_reads
from cets.entrypoints.cli import app
from cets.entrypoints.report_charts import (
    DOWN,
    UP,
    EntityFigures,
    compliance_chart,
    kline_chart,
)
from cets.service.clock import SHANGHAI
from cli_support import ok, refused

DEMO = Path(__file__).parents[1] / "scenarios" / "demo.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('report')}/demo.db"
    ok("init", db=url)
    ok("scenario", "run", str(DEMO), "--db", url, db=url)
    return url


def bar(day: int, open_fen: int, close_fen: int) -> Bar:
    high, low = max(open_fen, close_fen) + 50, min(open_fen, close_fen) - 50
    at = datetime(2024, 3, day, tzinfo=SHANGHAI)
    return Bar(at, open_fen, high, low, close_fen, 1_000, 1_000 * close_fen)


def colour_pixels(png: Path) -> tuple[int, int]:
    """(red pixels, green pixels) of the image: saturated ones only, not grey or anti-aliased."""
    rgb = imread(png)[..., :3]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    red = (r > 0.6) & (g < 0.3) & (b < 0.3)
    green = (g > 0.4) & (r < 0.3) & (b < 0.3)
    return int(np.count_nonzero(red)), int(np.count_nonzero(green))


def valid_png(path: Path, width: int, height: int) -> None:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert imread(path).shape[:2] == (height, width)


@pytest.mark.parametrize(
    ("open_fen", "close_fen", "expected"),
    [(6000, 6200, "red"), (6200, 6000, "green"), (6000, 6000, "red")],
    ids=["up", "down", "flat"],
)
def test_a_bar_is_drawn_red_when_it_closes_at_or_above_its_open_and_green_below(
    tmp_path: Path, open_fen: int, close_fen: int, expected: str
) -> None:
    png = tmp_path / "one.png"
    plot = kline_chart(
        [bar(4, open_fen, close_fen)], png, instrument="CEA-2023", interval=Interval.day
    )
    red, green = colour_pixels(png)
    assert plot.colours == ((UP,) if expected == "red" else (DOWN,))
    if expected == "red":
        assert red > 1_000 and green == 0, (red, green)
    else:
        assert green > 1_000 and red == 0, (red, green)


def test_a_chart_draws_one_candle_per_bar_with_each_bar_s_colour(tmp_path: Path) -> None:
    bars = [bar(4, 6000, 6100), bar(5, 6100, 6050), bar(6, 6050, 6050), bar(7, 6050, 5900)]
    png = tmp_path / "four.png"
    plot = kline_chart(bars, png, instrument="CEA-2023", interval=Interval.day)
    assert (plot.bars, plot.candles) == (4, 4)
    assert plot.colours == (UP, DOWN, UP, DOWN)
    assert plot.title == "CEA-2023 1d K-line, 2024-03-04 to 2024-03-07"
    red, green = colour_pixels(png)
    assert red > 1_000 and green > 1_000


def test_the_demo_s_bars_are_the_market_read_s_down_then_flat(demo: str, tmp_path: Path) -> None:
    store = SqlStore.existing(demo)
    try:
        calendar = TradingCalendar.from_policy(Policy())
        bars = market_reads.bars(
            store, calendar, "CEA-2023", Interval.day, date(2024, 3, 1), date(2024, 3, 31)
        )
    finally:
        store.close()
    plot = kline_chart(bars, tmp_path / "demo.png", instrument="CEA-2023", interval=Interval.day)
    assert (plot.bars, plot.candles) == (2, 2)
    assert plot.colours == (DOWN, UP)  # 60.20 -> 60.15, then 60.40 all day


def test_the_compliance_chart_draws_the_top_emitters_and_counts_every_status(
    tmp_path: Path,
) -> None:
    entities = [
        EntityFigures("E1", "A", 150_000, 40_000),
        EntityFigures("E2", "B", 30_000, 130_000),
        EntityFigures("E3", "C", 10_000, 0),
        EntityFigures("E4", "A", 90_000, 80_000),
    ]
    png = tmp_path / "compliance.png"
    plot = compliance_chart(entities, png, label="2023", top=2)
    assert [e.account for e in plot.entities] == ["E2", "E4"]
    assert plot.statuses == {"A": 2, "B": 1, "C": 1}
    assert png.read_bytes()[:8] == PNG_SIGNATURE


def test_report_kline_writes_the_demo_s_two_candles_as_a_png(demo: str, tmp_path: Path) -> None:
    png = tmp_path / "kline.png"
    shown = ok("report", "kline", "--instrument", "CEA-2023", "--out", str(png), db=demo)
    assert "CEA-2023 1d K-line, 2024-03-04 to 2024-03-05 (2 candles)" in shown
    valid_png(png, 1200, 700)
    red, green = colour_pixels(png)
    assert red > 0 and green > 1_000  # the flat day is a red line, the down day a green body


def test_report_compliance_draws_allocation_against_verified_emissions(
    demo: str, tmp_path: Path
) -> None:
    png = tmp_path / "compliance.png"
    shown = ok("report", "compliance", "--year", "2023", "--out", str(png), db=demo)
    assert shown.splitlines()[1:] == [
        "  E2 (B): allocation 30,000 t, verified emissions 130,000 t",
        "  E1 (A): allocation 150,000 t, verified emissions 40,000 t",
        "  entities by status: A 1, B 1",
    ]
    valid_png(png, 800, 900)
    top = ok("report", "compliance", "--year", "2023", "--top", "1", "--out", str(png), db=demo)
    assert "  E2 (B)" in top and "  E1 (A)" not in top


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("kline", "--instrument", "CEA-2099"), "--instrument 'CEA-2099': no such instrument"),
        (("kline", "--instrument", "CEA-2023", "--from", "2025-01-01"), "--from/--to: no 1d bars"),
        (("kline", "--instrument", "CEA-2023", "--to", "2024-03-32"), "--to '2024-03-32'"),
        (("compliance", "--year", "2030"), "--year 2030: no entity has verified emissions"),
        (("compliance", "--year", "1990"), "--year"),
    ],
    ids=["unknown-instrument", "empty-range", "bad-day", "year-without-figures", "year-too-early"],
)
def test_bad_input_exits_2_naming_the_option(
    demo: str, tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    png = tmp_path / "never.png"
    said = refused("report", *args, "--out", str(png), db=demo, exit_code=2)
    assert named in said
    assert not png.exists()


def test_without_the_report_extra_the_command_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "mplfinance", None)  # importing it now fails
    monkeypatch.delitem(sys.modules, "cets.entrypoints.report_charts", raising=False)
    monkeypatch.delattr(entrypoints, "report_charts", raising=False)
    args = ["report", "kline", "--instrument", "CEA-2023", "--out", "never.png"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 2
    assert "install the report extra: pip install 'cets[report]'" in done.output
