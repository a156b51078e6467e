"""`cets import prices` from outside, as a user runs it: the installed console script on the real
Hubei file prints what it loaded and the dirt it found; a second run loads nothing new; a file it
cannot read exits 2 with a message naming the file and the row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from shared_data import shared_data

CETS = Path(sys.executable).with_name("cets")
DATA = shared_data("cn-pilot-prices")
HUBEI_CSV = DATA / "hubei_daily_2014-2021.csv"
SCEEX_XLSX = DATA / "sceex_daily_quotes_20160701-20230724.xlsx"


def cets(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "CETS_DATABASE_URL")}
    return subprocess.run(
        [str(CETS), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_importing_the_hubei_file_prints_the_bars_loaded_and_the_dirt_by_kind(
    tmp_path: Path,
) -> None:
    db = f"sqlite:///{tmp_path / 'cets.db'}"

    run = cets("import", "prices", HUBEI_CSV, "--db", db)

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[1:5] == [
        "rows read: 1852",
        "bars loaded: 1649 (1649 new, 0 updated, 0 unchanged)",
        "  HBEA: 1649 bars, 2014-04-02 to 2021-03-23",
        "first day: 2014-04-02, last day: 2021-03-23",
    ]
    assert "dirty rows: 212" in lines
    kinds = {line.split(":")[0].strip(): line for line in lines if line.startswith("  ")}
    assert kinds["no_trade"].startswith("  no_trade: 197 - ")
    assert kinds["no_trade_price_moved"].startswith("  no_trade_price_moved: 6 - ")
    assert kinds["volume_amount_swapped"].endswith("swapped back (line 30, 609)")
    assert kinds["price_implausible"].endswith("(line 880, 1692, 1702)")
    assert kinds["amount_implausible"].endswith("kept as published (line 487, 774, 938, 1248)")
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            count, volume = conn.execute(
                text("SELECT count(*), sum(volume_t) FROM daily_bars WHERE instrument = 'HBEA'")
            ).one()
    finally:
        engine.dispose()
    assert (count, volume) == (1649, 75_742_670)

    again = cets("import", "prices", HUBEI_CSV, "--db", db)

    assert again.returncode == 0, again.stderr
    assert "bars loaded: 1649 (0 new, 0 updated, 1649 unchanged)" in again.stdout.splitlines()

    # The imported history reads back through the market data command, like the API's.
    months = cets(
        "market",
        "klines",
        "HBEA",
        "--interval",
        "1M",
        "--start",
        "2021-01-01",
        "--json",
        "--db",
        db,
    )
    assert months.returncode == 0, months.stderr
    bars = json.loads(months.stdout)["bars"]
    assert [(b["time"], b["close"]) for b in bars] == [
        ("2021-01-01", "26.50"),
        ("2021-02-01", "29.98"),
        ("2021-03-01", "30.35"),
    ]
    assert cets("market", "klines", "hbea", "--db", db).returncode == 2


def test_the_sceex_workbook_for_one_market_on_postgresql(pg_url: str) -> None:
    run = cets("import", "prices", SCEEX_XLSX, "--db", pg_url, "--product", "HBEA")

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert "bars loaded: 1007 (1007 new, 0 updated, 0 unchanged)" in lines
    assert "  HBEA: 1007 bars, 2016-10-27 to 2023-07-24" in lines
    assert "rows of other instruments (not imported): 11285" in lines
    assert any(line.startswith("  not_a_pilot_market: 7 - ") for line in lines)
    assert lines[0].startswith(f"imported {SCEEX_XLSX.name} into postgresql+psycopg://")


def test_a_file_it_cannot_read_exits_2_naming_the_file_and_the_row(tmp_path: Path) -> None:
    db = tmp_path / "cets.db"
    wrong = tmp_path / "quotes.csv"
    wrong.write_text("date,close\n2020-01-02,30.00\n", encoding="utf-8")

    run = cets("import", "prices", wrong, "--db", f"sqlite:///{db}")

    assert run.returncode == 2
    assert f"{wrong}: line 1: expected the columns 日期, 成交价, 成交量, 成交额, 地点" in run.stderr
    assert run.stdout == ""
    assert not db.exists()  # nothing was created for a file that was never read
    missing = cets("import", "prices", tmp_path / "nowhere.xlsx", "--db", f"sqlite:///{db}")
    assert missing.returncode == 2
    assert "nowhere.xlsx: no such file" in missing.stderr
