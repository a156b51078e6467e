"""The compliance year's registry and compliance steps (`cets.sim.year`), each through the real
`Compliance` and `Registry` services, as the authority person `admin` (who acts) and the
holders themselves (who surrender):

- `allocate`: period 2024 opened (deadline 2025-12-31, the policy's rules, a penalty reference
  price of 90.00 CNY/t for a close with nothing traded), the benchmark plan imported (the lines
  of `year_agents.obligations`, verified output not yet known), CEA-2024 issued into the reserve
  and 70% pre-allocated from it (`Compliance.pre_allocate`, the path of `cets compliance plan
  pre-allocate`);
- `issue_ccer`: CCER issued straight to the emitters that hold some (project owners);
- `verify`: the 2024 emissions entered in one command (as `cets compliance emissions import`
  does with a file) and each line's verified output recorded;
- `true_up`: the final allocation (top-ups, the gap cap applied by the service);
- `surrender`: an emitter's CEA, oldest vintage first, then its CCER put to offset and used by
  the authority the same evening;
- `close`: the close after the deadline; late surrenders after it are refused (`period_closed`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from cets.domain.compliance.allocation import PlanLine
from cets.domain.compliance.records import EmissionEntry
from cets.domain.errors import RejectCode
from cets.domain.units import CCER
from cets.service.compliance import Compliance
from cets.service.ports import CommandResult
from cets.service.registry import Registry
from cets.sim.market_day import Trader
from cets.sim.year_agents import YEAR, Obligation

ADMIN = "admin"
DEADLINE = date(YEAR + 1, 12, 31)
REFERENCE_PRICE_FEN = 9_000


def allocate(
    compliance: Compliance, registry: Registry, duties: Iterable[Obligation], spare: int
) -> None:
    """Open the period, import the plan, issue CEA-2024 (the plan's final allocations and
    `spare` t), pre-allocate."""
    duties = list(duties)
    rules = {"penalty_reference_price_fen": REFERENCE_PRICE_FEN}
    ok(compliance.open_period(f"period-{YEAR}", YEAR, deadline=DEADLINE, rules=rules, actor=ADMIN))
    lines = [
        PlanLine(x.year, x.holder, x.line, x.benchmark, x.factors, x.previous_output)
        for me in duties
        for x in me.lines
    ]
    ok(compliance.import_plan(f"plan-{YEAR}", lines, actor=ADMIN))
    total = sum(me.final for me in duties) + spare
    ok(registry.issue(f"issue-CEA-{YEAR}", f"CEA-{YEAR}", total, actor=ADMIN))
    ok(compliance.pre_allocate(f"pre-allocate-{YEAR}", YEAR, actor=ADMIN))


def issue_ccer(registry: Registry, duties: Iterable[Obligation]) -> None:
    for me in duties:
        if me.ccer:
            ok(registry.issue(f"ccer-{me.holder}", CCER, me.ccer, to=me.holder, actor=ADMIN))


def verify(compliance: Compliance, duties: Iterable[Obligation]) -> None:
    """The year's verified emissions (all but the pending), then each line's verified output."""
    duties = [me for me in duties if me.behaviour != "pending"]
    entries = [EmissionEntry(me.holder, YEAR, me.emissions) for me in duties]
    ok(compliance.enter_emissions(f"emissions-{YEAR}", entries, actor=ADMIN))
    for me in duties:
        for x in me.lines:
            assert x.verified_output is not None
            cmd = f"output-{YEAR}-{me.holder}-{x.line}"
            ok(
                compliance.record_output(
                    cmd, YEAR, me.holder, x.line, x.verified_output, actor=ADMIN
                )
            )


def true_up(compliance: Compliance, duties: Iterable[Obligation]) -> None:
    ok(compliance.final_allocate(f"final-allocate-{YEAR}", YEAR, actor=ADMIN))
    for me in duties:
        me.topped_up = True


def surrender(compliance: Compliance, tr: Trader, me: Obligation, *, last: bool) -> bool:
    """Surrender what `me` means to (CEA oldest first, then its CCER, used at once); False when
    its CEA is short and it is not `last` day (it tries again the next day)."""
    owed = me.target - me.cea_surrendered
    held = sorted((s, q) for s, q in tr.units.items() if s.startswith("CEA-") and q > 0)
    if sum(q for _, q in held) < owed and not last:
        return False
    for symbol, quantity in held:
        give = min(owed, quantity)
        if give <= 0:
            break
        cmd = f"surrender-{me.holder}-{symbol}"
        ok(compliance.surrender(cmd, me.holder, YEAR, symbol, give, actor=me.holder))
        me.cea_surrendered += give
        owed -= give
    if me.ccer and not me.offset:
        cmd = f"offset-{me.holder}"
        ok(compliance.surrender(cmd, me.holder, YEAR, CCER, me.ccer, actor=me.holder))
        ok(compliance.decide_offset(f"use-{cmd}", cmd, use=True, actor=ADMIN))
        me.offset = me.ccer
    return True


def close(compliance: Compliance) -> None:
    ok(compliance.close(f"close-{YEAR}", YEAR, actor=ADMIN))


def surrender_late(compliance: Compliance, tr: Trader, me: Obligation) -> bool:
    """A surrender after the close: True when it was refused, as it must be."""
    held = sorted((s, q) for s, q in tr.units.items() if s.startswith("CEA-") and q > 0)
    if not held:
        return True
    symbol, quantity = held[0]
    cmd = f"surrender-late-{me.holder}"
    done = compliance.surrender(cmd, me.holder, YEAR, symbol, quantity, actor=me.holder)
    return done.code == RejectCode.period_closed


def ok(result: CommandResult) -> None:
    assert result.ok, result
