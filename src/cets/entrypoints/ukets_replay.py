"""`cets replay ukets`: the published UK ETS workbooks (../shared/data/ukets/, read by
`cets.adapters.importers.ukets`) imported as they are into a CETS registry, each account's status
per year computed by the compliance service from the registry's own data (its recorded status
tables, never the official codes), and compared with the official static status codes.

Modelling choices (the report and the table say no more than this, so each is written down):
- Holders: one per compliance-report account, id `UK<operator id>`, kind `key_emitter`, name the
  Account Holder Name (none given: `operator <id>`); its years of operation are the First and
  Last Year of Operation (`set_operation_years`; a blank bound stays open).
- Period: one cumulative period 2021-2030, the UK ETS phase, deadline 30 April 2031, so year Y is
  due by 30 April of Y+1 (`Period.deadline_of`); rules: no offsets (`offset_cap_pct` 0), no
  relief rule, no gap cap, no shortfall deduction (none of them is a UK ETS rule).
- Units: UK allowances are modelled as `CEA-<year>`, the asset codes CETS has.
- Allocation: for each year of the allocation table up to and including the report's year
  (2025), the year's Total (C) of every row that matches an account is issued into the reserve
  in one `issue`, then allocated to the holder whose operator id is the row's Installation ID
  (the join the importer documents; not the permit id). Later columns (2026) are allocations
  still to come on 2025-06-11: not issued. Rows matching no account are counted and reported.
- Emissions: every year cell as published: whole tonnes are entered, `EXCLUDED` is entered as an
  excluded year (tonnes None), a blank cell is not entered at all; one `enter_emissions` command.
- Surrenders: the report gives only cumulative surrenders (as of 2025-06-11). Each account with
  some surrenders them for compliance year 2024, acting itself, from its allocated units oldest
  vintage first (one surrender per vintage); what its allocation does not cover is first issued
  to it as CEA-2024 and counted "acquired (auctions/market)": the report does not say where
  those units came from.
- Clock: every command runs at the report's date, 2025-06-11 10:00 Asia/Shanghai. Then the
  years 2021, 2022, 2023 and 2024 are closed in that order (each deadline has passed), so the
  status tables read are the ones recorded at a close.
- Comparison: per year 2021-2024, the count of accounts by official x computed status, and the
  scored accounts whose 2024 status disagrees. Only 2024 is scored (`matched N of M`, M the
  accounts officially A, B or C for 2024): the report has surrenders only cumulatively as of
  2025-06-11, and its statuses are static (as at each year's deadline), so earlier years cannot
  be rebuilt from it exactly; e.g. an account whose 2021 emissions were entered after the 2021
  deadline is officially C for 2021, while the registry now holds them.

Every command has a fixed client id (`ukets:...`), so replaying into the same `--db` again
repeats nothing. A command refused, or a workbook that cannot be read, is a `ReplayError`.
"""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Final

from cets.adapters.importers.ukets import (
    EXCLUDED,
    AllocationTable,
    ComplianceReport,
    UkAccount,
    read_allocation_table,
    read_compliance_report,
)
from cets.adapters.sql.store import SqlStore
from cets.domain.compliance.records import EmissionEntry
from cets.domain.policy import Policy
from cets.domain.registry.holders import Holder, HolderKind
from cets.domain.trading.calendar import TradingCalendar
from cets.domain.units import cea
from cets.service.clock import SHANGHAI, SettableClock
from cets.service.compliance import Compliance
from cets.service.ports import CommandResult
from cets.service.registry import Registry

REPORT_AT: Final = datetime(2025, 6, 11, 10, 0, tzinfo=SHANGHAI)  # the report's publication
PHASE: Final = (2021, 2030)
DEADLINE: Final = date(2031, 4, 30)
RULES: Final = {
    "offset_cap_pct": 0,
    "relief": False,
    "gap_cap_pct": "off",
    "shortfall_deduction": False,
}
SCORED_YEAR: Final = 2024
SCORED: Final = frozenset({"A", "B", "C"})
BLANK: Final = "blank"  # an official status cell left empty
ACTOR: Final = "ukets-replay"
STAGES: Final = ("read workbooks", "accounts", "allocations", "emissions", "surrenders", "status")

Progress = Callable[[str, int, int | None], None]  # (stage, done, total if known)


class ReplayError(Exception):
    """A workbook that cannot be read, or a command the registry refused."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    operator_id: int
    holder_name: str
    official: str
    computed: str
    obligation: int
    surrendered: int


@dataclass(slots=True)
class ReplayResult:
    problems: list[str] = field(default_factory=list)  # what the readers flagged, as text
    accounts: int = 0
    aircraft: int = 0
    allocation_rows: int = 0
    unmatched_rows: list[int] = field(default_factory=list)  # installation ids
    allocated: dict[int, int] = field(default_factory=dict)  # vintage -> t
    not_allocated: dict[int, int] = field(default_factory=dict)  # later columns -> t
    emissions_entered: int = 0
    excluded_entered: int = 0
    not_entered: int = 0
    surrendering: int = 0  # accounts
    from_allocation: int = 0  # t
    acquired: int = 0  # t
    years: tuple[int, ...] = ()
    matrix: dict[int, Counter[tuple[str, str]]] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)
    matched: int = 0
    scored: int = 0

    @property
    def ok(self) -> bool:
        return self.matched == self.scored


def holder_id(operator_id: int) -> str:
    return f"UK{operator_id}"


def replay(
    compliance_path: Path,
    allocation_path: Path,
    db_url: str | None = None,
    progress: Progress | None = None,
) -> ReplayResult:
    """Replay the two workbooks into `db_url` (default: a throwaway SQLite file) and compare."""
    tell = progress or (lambda stage, done, total: None)
    try:
        report = read_compliance_report(
            compliance_path, lambda done, total: tell(STAGES[0], done, total)
        )
        table = read_allocation_table(
            allocation_path, lambda done, total: tell(STAGES[0], done, total)
        )
    except (OSError, ValueError) as exc:
        raise ReplayError(str(exc)) from exc
    with _store(db_url) as store:
        result = _replay_on(store, report, table, tell)
    for name, problems in (
        (compliance_path.name, report.problems),
        (allocation_path.name, table.problems),
    ):
        result.problems += [
            f"{name} row {p.row}, {p.column} {p.value!r}: {p.rule}" for p in problems
        ]
    return result


@contextmanager
def _store(db_url: str | None) -> Iterator[SqlStore]:
    if db_url is not None:
        store = SqlStore.open(db_url)
        try:
            yield store
        finally:
            store.close()
        return
    with tempfile.TemporaryDirectory(prefix="cets-ukets-") as tmp:
        store = SqlStore.open(f"sqlite:///{tmp}/ukets.db", durable=False)
        try:
            yield store
        finally:
            store.close()


def _replay_on(
    store: SqlStore, report: ComplianceReport, table: AllocationTable, tell: Progress
) -> ReplayResult:
    policy = Policy()
    clock = SettableClock(REPORT_AT)
    registry = Registry(store, clock, calendar=TradingCalendar.from_policy(policy))
    compliance = Compliance(store, clock, policy)
    result = ReplayResult(years=report.years)
    accounts = report.accounts
    _open_accounts(registry, compliance, accounts, result, tell)
    allocated = _allocate(registry, accounts, table, result, tell)
    _enter_emissions(compliance, accounts, result, tell)
    _surrender(registry, compliance, accounts, allocated, result, tell)
    _close_and_compare(compliance, accounts, result, tell)
    return result


def _ok(result: CommandResult, what: str) -> None:
    if not result.ok:
        raise ReplayError(f"{what}: refused: {result.code}: {result.message}")


# -- the import ---------------------------------------------------------------------------------


def _open_accounts(
    registry: Registry,
    compliance: Compliance,
    accounts: Sequence[UkAccount],
    result: ReplayResult,
    tell: Progress,
) -> None:
    first, last = PHASE
    _ok(
        compliance.open_period(
            "ukets:period",
            first,
            last,
            deadline=DEADLINE,
            cumulative=True,
            rules=dict(RULES),
            actor=ACTOR,
        ),
        f"period {first}-{last}",
    )
    for done, account in enumerate(accounts, start=1):
        holder = holder_id(account.operator_id)
        name = account.holder_name or f"operator {account.operator_id}"
        _ok(registry.open_holder(Holder(holder, HolderKind.key_emitter, name), actor=ACTOR), holder)
        _ok(
            compliance.set_operation_years(
                f"ukets:years:{holder}", holder, account.first_year, account.last_year, actor=ACTOR
            ),
            f"{holder} years of operation",
        )
        tell(STAGES[1], done, len(accounts))
    result.accounts = len(accounts)
    result.aircraft = sum(1 for a in accounts if a.aircraft)


def _allocate(
    registry: Registry,
    accounts: Sequence[UkAccount],
    table: AllocationTable,
    result: ReplayResult,
    tell: Progress,
) -> dict[str, dict[int, int]]:
    """Issue each year's allocations into the reserve in one command, then allocate them;
    returns holder -> vintage -> units allocated."""
    known = {a.operator_id for a in accounts}
    rows = [r for r in table.rows if r.installation_id in known]
    result.allocation_rows = len(table.rows)
    result.unmatched_rows = [
        r.installation_id for r in table.rows if r.installation_id not in known
    ]
    years = [y for y in table.years if y <= REPORT_AT.year]
    result.not_allocated = {
        y: sum(r.total[y] for r in rows) for y in table.years if y > REPORT_AT.year
    }
    allocated: dict[str, dict[int, int]] = defaultdict(dict)
    todo = sum(1 for y in years for r in rows if r.total[y] > 0)
    done = 0
    for year in years:
        asset, total = cea(year), sum(r.total[year] for r in rows)
        result.allocated[year] = total
        if total == 0:
            continue
        _ok(registry.issue(f"ukets:issue:{year}", asset, total, actor=ACTOR), f"issue {asset}")
        for row in rows:
            quantity = row.total[year]
            if quantity == 0:
                continue
            holder = holder_id(row.installation_id)
            _ok(
                registry.allocate(
                    f"ukets:allocate:{year}:{holder}", holder, asset, quantity, actor=ACTOR
                ),
                f"allocate {quantity} {asset} to {holder}",
            )
            allocated[holder][year] = quantity
            done += 1
            tell(STAGES[2], done, todo)
    return allocated


def _enter_emissions(
    compliance: Compliance, accounts: Sequence[UkAccount], result: ReplayResult, tell: Progress
) -> None:
    entries = [
        EmissionEntry(holder_id(a.operator_id), year, None if value == EXCLUDED else value)
        for a in accounts
        for year, value in sorted(a.emissions.items())
        if value is not None
    ]
    tell(STAGES[3], 0, len(entries))
    _ok(compliance.enter_emissions("ukets:emissions", entries, actor=ACTOR), "emissions")
    tell(STAGES[3], len(entries), len(entries))
    result.emissions_entered = len(entries)
    result.excluded_entered = sum(1 for e in entries if e.tonnes is None)
    result.not_entered = sum(1 for a in accounts for v in a.emissions.values() if v is None)


def _surrender(
    registry: Registry,
    compliance: Compliance,
    accounts: Sequence[UkAccount],
    allocated: Mapping[str, Mapping[int, int]],
    result: ReplayResult,
    tell: Progress,
) -> None:
    """Each account's cumulative surrenders, for 2024: allocated units oldest vintage first,
    the rest issued to it first (acquired, source unknown)."""
    surrendering = [a for a in accounts if a.cumulative_surrenders > 0]
    for done, account in enumerate(surrendering, start=1):
        holder = holder_id(account.operator_id)
        plan = _vintages(account.cumulative_surrenders, allocated.get(holder, {}))
        acquired = account.cumulative_surrenders - sum(plan.values())
        if acquired:
            asset = cea(SCORED_YEAR)
            _ok(
                registry.issue(f"ukets:acquired:{holder}", asset, acquired, to=holder, actor=ACTOR),
                f"issue {acquired} {asset} to {holder}",
            )
            plan[SCORED_YEAR] = plan.get(SCORED_YEAR, 0) + acquired
        for vintage, quantity in sorted(plan.items()):
            asset = cea(vintage)
            _ok(
                compliance.surrender(
                    f"ukets:surrender:{holder}:{asset}",
                    holder,
                    SCORED_YEAR,
                    asset,
                    quantity,
                    actor=holder,
                ),
                f"{holder} surrenders {quantity} {asset}",
            )
        result.acquired += acquired
        result.from_allocation += account.cumulative_surrenders - acquired
        tell(STAGES[4], done, len(surrendering))
    result.surrendering = len(surrendering)


def _vintages(quantity: int, allocated: Mapping[int, int]) -> dict[int, int]:
    """Up to `quantity` of the allocated units, oldest vintage first: vintage -> units."""
    taken: dict[int, int] = {}
    for vintage in sorted(allocated):
        take = min(quantity, allocated[vintage])
        if take:
            taken[vintage] = take
            quantity -= take
    return taken


# -- the statuses -------------------------------------------------------------------------------


def _close_and_compare(
    compliance: Compliance, accounts: Sequence[UkAccount], result: ReplayResult, tell: Progress
) -> None:
    """Close each year in order, then compare the recorded status tables with the report."""
    years = result.years
    by_holder = {holder_id(a.operator_id): a for a in accounts}
    for done, year in enumerate(years, start=1):
        _ok(compliance.close(f"ukets:close:{year}", year, actor=ACTOR), f"close {year}")
        tell(STAGES[5], done, len(years) * 2)
    for done, year in enumerate(years, start=len(years) + 1):
        table = compliance.status_table(year)
        assert table.closed, f"status {year} was closed above"
        lines = {r.line.holder: r.line for r in table.rows if r.line.holder in by_holder}
        matrix: Counter[tuple[str, str]] = Counter()
        for holder, account in by_holder.items():
            line = lines.get(holder)
            assert line is not None, f"{holder} is a key emitter: every status table has it"
            official = account.official_status.get(year) or BLANK
            computed = line.status.value
            matrix[(official, computed)] += 1
            if year == SCORED_YEAR and official in SCORED:
                result.scored += 1
                if computed == official:
                    result.matched += 1
                else:
                    result.mismatches.append(
                        Mismatch(
                            account.operator_id,
                            account.holder_name,
                            official,
                            computed,
                            line.obligation,
                            line.surrendered,
                        )
                    )
        result.matrix[year] = matrix
        tell(STAGES[5], done, len(years) * 2)
