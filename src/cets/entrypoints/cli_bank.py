"""`cets bank import|instructions`: a settlement bank's files, on the database named by `--db` /
`CETS_DATABASE_URL`, acting as the registered person `--as` (default `$CETS_PERSON`, else
`admin`), whose role is checked as the API checks it.

- `import FILE --bank B`: B's statement (CSV: date,reference,account,type,amount). Each deposit
  line is a deposit whose client id is the bank's reference; each withdrawal line reports the
  request with that id paid. All-or-nothing: a malformed line (exit 2) or a refused one (exit 1,
  with its code) refuses the file, and every such line is listed with its number and field.
  Importing the same file again changes nothing and says so. Only B's own people may import.
- `instructions --bank B [--day D] [--out FILE]`: the payment-instruction CSV of B's open
  withdrawal requests (made on local date D, if given), to stdout or FILE. Staff who read the
  registry, and B's own people, may write it.

The clock is a parameter of `bank_cli` (the system clock for `cets`), so a test can run the same
commands at a chosen moment.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cets.domain.errors import DomainError
from cets.domain.registry.access import Role
from cets.domain.registry.bank_files import format_instructions, parse_statement
from cets.domain.registry.funds import bank_of
from cets.entrypoints.cli_admin import AsOption, DbOption, Session, _fail, err, out
from cets.service.clock import Clock, SystemClock
from cets.service.funds import Funds

BankOption = Annotated[str, typer.Option("--bank", help="The settlement bank's holder id.")]


class _Desk:
    """The commands, acting at `clock`'s time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def _funds(self, console: Session) -> Funds:
        return Funds(console.store, self.clock, calendar=console.calendar)

    def import_statement(
        self,
        file: Annotated[Path, typer.Argument(help="The bank's statement (CSV).")],
        bank: BankOption,
        db: DbOption = None,
        actor: AsOption = "admin",
    ) -> None:
        """Book a bank's statement: deposits credited, withdrawals paid, all-or-nothing."""
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"{file}: {exc}")
        lines, problems = parse_statement(text)
        if problems:
            _fail("\n".join([f"{file}: refused, nothing imported", *map(str, problems)]))
        console = Session(db, actor)
        console.allow("import_bank_statement")
        try:
            outcome = self._funds(console).import_statement(bank, lines, actor=actor)
        except DomainError as exc:
            _fail(f"{exc.code}: {exc.message}", 1)
        finally:
            console.store.close()
        if not outcome.ok:
            err.print(
                f"{outcome.code}: {file}: refused, nothing imported", highlight=False, markup=False
            )
            for problem in outcome.problems:
                err.print(f"  {problem} ({problem.code})", highlight=False, markup=False)
            raise typer.Exit(1)
        out.print(f"{file}: {outcome.summary()}", highlight=False, markup=False)

    def instructions(
        self,
        bank: BankOption,
        day: Annotated[
            str | None, typer.Option(help="Only requests made on this local date (2026-03-02).")
        ] = None,
        to: Annotated[
            Path | None, typer.Option("--out", help="Write to FILE instead of stdout.")
        ] = None,
        db: DbOption = None,
        actor: AsOption = "admin",
    ) -> None:
        """Write the payment instructions for a bank's open withdrawal requests (CSV)."""
        on = None
        if day is not None:
            try:
                on = date.fromisoformat(day)
            except ValueError:
                _fail(f"--day {day!r}: was expected a date like 2026-03-02")
        console = Session(db, actor)
        console.allow("read_withdrawals")
        if console.person.role == Role.settlement_bank and bank_of(console.person) != bank:
            console.store.close()
            _fail(f"not_authorized: {actor!r} acts for bank {bank_of(console.person)!r} only")
        try:
            text = format_instructions(self._funds(console).instructions(bank, on))
        finally:
            console.store.close()
        if to is None:
            sys.stdout.write(text)
            return
        to.write_text(text, encoding="utf-8")
        out.print(f"{to}: {text.count(chr(10)) - 1} payment instructions", highlight=False)


def bank_cli(clock: Clock | None = None) -> typer.Typer:
    """The `cets bank` commands, acting at `clock`'s time (default: the system's)."""
    app = typer.Typer(
        help="A settlement bank's files: statements in, payment instructions out.",
        no_args_is_help=True,
    )
    desk = _Desk(clock or SystemClock())
    app.command("import")(desk.import_statement)
    app.command("instructions")(desk.instructions)
    return app


bank_app = bank_cli()
