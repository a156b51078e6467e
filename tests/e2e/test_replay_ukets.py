"""`cets replay ukets` from outside, as a user runs it: the installed console script on the two
real UK ETS workbooks (../shared/data/ukets/) matches every scored 2024 status and leaves a
registry whose recorded statuses, balances and journal can be read back; on a copy of the
report altered by one cell the comparison fails and says which account.

The figures pinned here were read from the workbooks by eye (row 2: AAK International, operator
1000000; row 16: operator 1000014; row 667: aircraft operator 1000692; row 1289: 1001315).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

from cets.adapters.sql.store import SqlStore
from cets.domain.compliance.status import StatusLine
from cets.domain.policy import Policy
from cets.service.clock import SystemClock
from cets.service.compliance import Compliance
from shared_data import shared_data

CETS = Path(sys.executable).with_name("cets")
COMPLIANCE_XLSX = shared_data("ukets", "20250611_Compliance_Report_Emissions_and_Surrenders.xlsx")
ALLOCATION_XLSX = shared_data("ukets", "ukets-allocation-table-december-2025.xlsx")


def replay(compliance: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "CETS_DATABASE_URL")}
    args = ["replay", "ukets", "--compliance", str(compliance)]
    args += ["--allocation", str(ALLOCATION_XLSX), *extra]
    return subprocess.run(
        [str(CETS), *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


@dataclass(frozen=True)
class Replayed:
    run: subprocess.CompletedProcess[str]
    db: str


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    db = f"sqlite:///{tmp_path_factory.mktemp('ukets') / 'cets.db'}"
    return Replayed(replay(COMPLIANCE_XLSX, "--db", db), db)


@pytest.fixture(scope="module")
def store(replayed: Replayed) -> Iterator[SqlStore]:
    opened = SqlStore.existing(replayed.db)
    yield opened
    opened.close()


def status_lines(store: SqlStore, year: int) -> dict[str, StatusLine]:
    table = Compliance(store, SystemClock(), Policy()).status_table(year)
    assert table.closed
    return {row.line.holder: row.line for row in table.rows}


def test_the_real_workbooks_replay_to_every_official_2024_status(replayed: Replayed) -> None:
    lines = replayed.run.stdout.splitlines()

    assert replayed.run.returncode == 0, replayed.run.stderr
    assert lines[-1] == "matched 1227 of 1227"
    assert lines[-2].startswith("only 2024 is scored: ")
    assert "2024 mismatches (official A, B or C): none" in lines
    assert lines[1].startswith("accounts: 1341 holders (757 installations, 584 aircraft ")
    assert "allocation rows: 482, with no account: 0" in lines
    assert any(line.startswith("  2026: ") and "not allocated" in line for line in lines)


def test_an_operator_that_stopped_in_2021_without_surrendering_is_b_in_2024(
    store: SqlStore,
) -> None:
    line = status_lines(store, 2024)["UK1000014"]

    assert (line.status, line.obligation, line.surrendered) == ("B", 8438, 0)


def test_an_aircraft_operator_excluded_every_year_is_excluded(store: SqlStore) -> None:
    lines = status_lines(store, 2024)

    assert lines["UK1000692"].status == "EXCLUDED"
    holder = store.holder("UK1000692")
    assert holder is not None
    assert (holder.kind, holder.name) == ("key_emitter", "ACANITT HOLDING INTERNATIONAL")


def test_an_operator_whose_2024_emissions_were_not_entered_is_c(store: SqlStore) -> None:
    line = status_lines(store, 2024)["UK1001315"]

    assert line.status == "C"
    assert line.surrendered == 1171  # surrendered, but its emissions are missing


def test_a_compliant_installation_surrendered_its_allocation_and_bought_the_rest(
    store: SqlStore,
) -> None:
    line = status_lines(store, 2024)["UK1000000"]
    units = {a.asset: a.balance for a in store.accounts_of("UK1000000") if a.asset != "CNY"}

    assert (line.status, line.obligation, line.surrendered) == ("A", 79700, 79700)
    # allocated 9815 + 10765 + 11399 + 8931 + 8931 (2021-2025) = 49841, 29859 acquired
    assert units == {f"CEA-{year}": 0 for year in range(2021, 2026)}
    assert store.audit().ok


def test_the_comparison_fails_when_one_compliant_account_surrendered_a_tonne_too_few(
    tmp_path: Path,
) -> None:
    altered = tmp_path / "altered.xlsx"
    book = openpyxl.load_workbook(COMPLIANCE_XLSX)
    sheet = book["Data"]
    header = [cell.value for cell in sheet[1]]
    surrenders = header.index("Cumulative surrenders") + 1
    assert sheet.cell(2, header.index("Operator ID") + 1).value == 1000000
    assert sheet.cell(2, surrenders).value == 79700
    sheet.cell(2, surrenders).value = 79699
    book.save(altered)

    run = replay(altered)
    lines = run.stdout.splitlines()

    assert run.returncode == 1, run.stderr
    assert lines[-1] == "matched 1226 of 1227"
    assert "2024 mismatches (official A, B or C): 1" in lines
    assert (
        "  UK1000000 AAK International: official A, computed B (obligation 79700 t, "
        "surrendered 79699 t)" in lines
    )
