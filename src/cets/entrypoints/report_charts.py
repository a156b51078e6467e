"""Charts as PNG files: an instrument's K-lines, and a compliance year's allocation against
verified emissions. Pure functions: values in, one PNG file out, and what was drawn returned (so
the console can say it and a test can check it). No database, no clock here; `cli_report` reads.

Invariants:
    - Amounts stay integers everywhere but inside the figure: prices are fen per tonne and
      become yuan (fen / 100) only as the y coordinates drawn; nothing this module returns or
      writes besides the PNG holds a float.
    - Chinese convention: a bar is up, drawn red, when close >= open, else down, drawn green; its
      volume bar takes the same colour. mplfinance calls close == open "down" (`open < close`),
      so each candle's colour is given to it (`marketcolor_overrides`) rather than left to it.
    - One candle per bar, in the order given.

matplotlib and mplfinance are the optional extra `report`; `cli_report` imports this module only
when a report is asked for. Figures are built on the Agg canvas directly (`Figure` +
`FigureCanvasAgg`), never through pyplot: no backend is switched, no figure is left open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import mplfinance as mpf
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cets.domain.marketdata.klines import Bar, Interval, is_intraday

UP: Final = "red"
DOWN: Final = "green"
ALLOCATED: Final = "#4c72b0"
EMITTED: Final = "#dd8452"
DPI: Final = 100


@dataclass(frozen=True, slots=True)
class KlinePlot:
    """What a K-line chart shows: the bars it was given, the candle bodies drawn, their colours."""

    path: Path
    title: str
    bars: int
    candles: int
    colours: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EntityFigures:
    """One entity of a compliance year: its allocation and verified emissions (tonnes)."""

    account: str
    status: str
    allocated: int
    emissions: int


@dataclass(frozen=True, slots=True)
class CompliancePlot:
    """What a compliance chart shows: the entities drawn (most emissions first) and the number
    of entities in each status among all the year's entities."""

    path: Path
    title: str
    entities: tuple[EntityFigures, ...]
    statuses: dict[str, int]


def bar_colour(bar: Bar) -> str:
    """Red up (close >= open), green down: the Chinese exchanges' convention."""
    return UP if bar.close >= bar.open else DOWN


def kline_chart(
    bars: Sequence[Bar], path: Path, *, instrument: str, interval: Interval
) -> KlinePlot:
    """Draw `bars` (at least one, oldest first) as candles over a volume panel into `path`."""
    assert bars, "a K-line chart needs at least one bar"
    first, last = bars[0].time.date(), bars[-1].time.date()
    span = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    title = f"{instrument} {interval.value} K-line, {span}"
    colours = [bar_colour(b) for b in bars]
    frame = pd.DataFrame(
        {
            "Open": [b.open / 100 for b in bars],
            "High": [b.high / 100 for b in bars],
            "Low": [b.low / 100 for b in bars],
            "Close": [b.close / 100 for b in bars],
            "Volume": [b.volume for b in bars],
        },
        # local (Asia/Shanghai) times without their zone: mplfinance labels what it is given
        index=pd.DatetimeIndex([b.time.replace(tzinfo=None) for b in bars]),
    )
    figure = Figure(figsize=(12, 7), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    price, volume = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    style = mpf.make_mpf_style(marketcolors=mpf.make_marketcolors(up=UP, down=DOWN, inherit=True))
    volume_bars = mpf.make_addplot(
        frame["Volume"], type="bar", ax=volume, color=colours, ylabel="Volume (t)"
    )
    mpf.plot(
        frame,
        type="candle",
        ax=price,
        addplot=[volume_bars],
        style=style,
        marketcolor_overrides=colours,
        ylabel="CNY/t",
        datetime_format="%Y-%m-%d %H:%M" if is_intraday(interval) else "%Y-%m-%d",
        xrotation=0,
        warn_too_much_data=len(bars) + 1,  # the range asked for is drawn; 1w or 1M thin it out
    )
    price.set_title(title)
    volume.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    volume.yaxis.set_major_formatter("{x:,.0f}")
    figure.savefig(path, format="png")
    return KlinePlot(path, title, len(bars), _candle_bodies(price), tuple(colours))


def _candle_bodies(axes: Axes) -> int:
    """The candle bodies mplfinance drew: the paths of the price panel's polygon collection."""
    bodies = [c for c in axes.collections if isinstance(c, PolyCollection)]
    assert len(bodies) == 1, f"{len(bodies)} polygon collections, was expected the candles' one"
    return len(bodies[0].get_paths())


def compliance_chart(
    entities: Sequence[EntityFigures], path: Path, *, label: str, top: int
) -> CompliancePlot:
    """Draw the `top` entities by verified emissions (allocation beside emissions, grouped) and
    the count of every entity per status into `path`."""
    assert entities, "a compliance chart needs at least one entity"
    assert top >= 1, f"top {top}, was expected >= 1"
    shown = sorted(entities, key=lambda e: (-e.emissions, e.account))[:top]
    statuses = dict(sorted(Counter(e.status for e in entities).items()))
    title = f"Compliance {label}: allocation and verified emissions, top {len(shown)} by emissions"
    figure = Figure(figsize=(max(8.0, 0.6 * len(shown) + 4), 9), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    tonnes, counts = figure.subplots(2, 1, height_ratios=(3, 2))
    places = list(range(len(shown)))
    width = 0.4
    allocated = [e.allocated for e in shown]
    emitted = [e.emissions for e in shown]
    tonnes.bar(
        [x - width / 2 for x in places], allocated, width, label="allocation", color=ALLOCATED
    )
    tonnes.bar(
        [x + width / 2 for x in places], emitted, width, label="verified emissions", color=EMITTED
    )
    tonnes.set_xticks(places, [e.account for e in shown], rotation=45 if len(shown) > 8 else 0)
    tonnes.set_ylabel("t")
    tonnes.yaxis.set_major_formatter("{x:,.0f}")
    tonnes.legend()
    tonnes.set_title(title)
    counts.bar(list(statuses), list(statuses.values()), color=ALLOCATED)
    counts.set_ylabel("entities")
    counts.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts.set_title(f"Entities by status ({len(entities)} in all)")
    figure.savefig(path, format="png")
    return CompliancePlot(path, title, tuple(shown), statuses)
