"""`cets bank import|instructions` end to end on a real database file: the commands built on a
settable clock run in this process (statements booked once, refused whole with the line and
field named, a bank kept to its own statements, instructions to stdout or a file), then the
installed `cets` console script as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cets.adapters.sql.store import SqlStore
from cets.domain.registry.access import Person, Role
from cets.domain.registry.holders import Holder
from cets.entrypoints.cli_bank import bank_cli
from cets.service.clock import SettableClock
from cets.service.funds import Funds
from cets.service.people import People
from cets.service.registry import Registry
from funds_support import MONDAY

CETS = Path(sys.executable).with_name("cets")
HEADER = "date,reference,account,type,amount\n"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[str]:
    """A database with banks `bank` and B2, their clerks bank1 and b2op, holders E1 (at B2, with
    100.00 and a request W1 of 30.00) and E2, and reg1."""
    url = f"sqlite:///{tmp_path}/cets.db"
    store = SqlStore.open(url)
    clock = SettableClock(MONDAY)
    reg = Registry(store, clock)
    for holder in (
        Holder("B2", "settlement_bank", "Second bank"),
        Holder("E1", "key_emitter", "E1"),
        Holder("E2", "key_emitter", "E2"),
    ):
        assert reg.open_holder(holder, actor="setup").ok
    people = People(store, clock)
    for person in (
        Person("bank1", "Default bank clerk", Role.settlement_bank),
        Person("b2op", "B2 clerk", Role.settlement_bank, "B2"),
        Person("reg1", "Registry operator", Role.registry_operator),
        Person("e1op", "E1 operator", Role.key_emitter, "E1"),
    ):
        people.add(person, actor="setup")
    funds = Funds(store, clock)
    assert funds.open_fund_account("E1", "B2", "6222-01", actor="reg1").ok
    assert reg.deposit("d0", "E1", 100_00, actor="b2op").ok
    assert funds.request_withdrawal("W1", "E1", 30_00, actor="e1op").ok
    store.close()
    yield url
    store = SqlStore.open(url)
    report = store.audit()
    store.close()
    assert report.ok, (report.chain_break, report.violations)


def bank(db: str, *args: str) -> Result:
    return CliRunner().invoke(bank_cli(SettableClock(MONDAY)), [*args, "--db", db])


def statement(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "statement.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return str(path)


def balances(db: str) -> dict[tuple[str, str], int]:
    store = SqlStore.open(db)
    try:
        return {(a.holder, a.purpose): a.balance for a in store.all_accounts() if a.asset == "CNY"}
    finally:
        store.close()


def test_a_statement_is_imported_once_and_importing_it_again_says_nothing_changed(
    db: str, tmp_path: Path
) -> None:
    file = statement(
        tmp_path, "2026-03-02,R1,6222-01,deposit,500.00", "2026-03-02,W1,6222-01,withdrawal,30.00"
    )

    first = bank(db, "import", file, "--bank", "B2", "--as", "b2op")
    again = bank(db, "import", file, "--bank", "B2", "--as", "b2op")

    assert first.exit_code == 0, first.output
    assert "1 deposits credited, 1 withdrawals paid" in first.output
    assert again.exit_code == 0, again.output
    assert "nothing changed: all 2 lines were imported before" in again.output
    assert balances(db)[("E1", "fund")] == 570_00


def test_a_bad_statement_is_refused_whole_with_each_bad_line_and_field(
    db: str, tmp_path: Path
) -> None:
    before = balances(db)
    malformed = statement(tmp_path, "2026-03-02,R1,E1,deposit,5.00", "2026-03-02,R2,E1,gift,5")

    bad = bank(db, "import", malformed, "--bank", "B2", "--as", "b2op")

    assert bad.exit_code == 2
    assert "line 3, type" in bad.output and "line 3, amount" in bad.output
    refused_line = statement(tmp_path, "2026-03-02,R1,E1,deposit,5.00", "2026-03-02,R2,E2,x,1.0")
    assert bank(db, "import", refused_line, "--bank", "B2", "--as", "b2op").exit_code == 2
    unknown = statement(
        tmp_path, "2026-03-02,R1,E1,deposit,5.00", "2026-03-02,W9,E1,withdrawal,1.00"
    )
    refused = bank(db, "import", unknown, "--bank", "B2", "--as", "b2op")
    assert refused.exit_code == 1
    assert "unknown_reference" in refused.output and "line 3, reference" in refused.output
    assert balances(db) == before


def test_a_bank_imports_only_its_own_statements_and_only_banks_import(
    db: str, tmp_path: Path
) -> None:
    file = statement(tmp_path, "2026-03-02,R1,E2,deposit,5.00")

    other_bank = bank(db, "import", file, "--bank", "B2", "--as", "bank1")
    registry = bank(db, "import", file, "--bank", "B2", "--as", "reg1")

    assert (other_bank.exit_code, registry.exit_code) == (1, 2)
    assert "wrong_settlement_bank" in other_bank.output
    assert "not_authorized" in registry.output
    assert ("E2", "fund") not in balances(db) or balances(db)[("E2", "fund")] == 0


def test_payment_instructions_go_to_stdout_or_a_file(db: str, tmp_path: Path) -> None:
    expected = (
        "reference,account,bank_account_number,amount,requested_at\n"
        "W1,E1,6222-01,30.00,2026-03-02T10:00:00+08:00\n"
    )

    shown = bank(db, "instructions", "--bank", "B2", "--day", "2026-03-02", "--as", "b2op")
    written = bank(
        db, "instructions", "--bank", "B2", "--out", str(tmp_path / "i.csv"), "--as", "reg1"
    )
    elsewhere = bank(db, "instructions", "--bank", "bank", "--as", "b2op")

    assert (shown.exit_code, shown.output) == (0, expected)
    assert written.exit_code == 0, written.output
    assert (tmp_path / "i.csv").read_text(encoding="utf-8") == expected
    assert elsewhere.exit_code == 2 and "not_authorized" in elsewhere.output


def test_the_cets_console_script_has_the_bank_commands(db: str) -> None:
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "CETS_DATABASE_URL")}
    done = subprocess.run(
        [str(CETS), "bank", "instructions", "--bank", "B2", "--day", "2026-03-03"],
        capture_output=True,
        text=True,
        env={**base, "CETS_DATABASE_URL": db, "CETS_PERSON": "reg1"},
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout) == (
        0,
        "reference,account,bank_account_number,amount,requested_at\n",
    ), done.stderr
