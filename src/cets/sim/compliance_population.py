"""A seeded population of key emitters for one compliance year, written set-based into a store:
what `bench/compliance.py` evaluates and closes (and what the dashboard's simulator can build on).

Period 2023 is opened through the service (deadline 2024-12-31, penalty reference price 80.00
CNY/t). The key emitters are opened set-based (`open_holders`, `open_accounts`), their emissions
written by the adapter's own multi-row writer, and the units moved through the ledger's batch path
(`uow.submit`, 10,000 commands a transaction, the kernel checking every rule): CEA-2023 allocated
and surrendered into the authority's surrender account; CCER issued, put to offset as a hold, and
mostly used (posted), a few left pending. The `surrenders` rows are written beside them, so the
rows and the surrender accounts agree (checked). The mix, from a seeded generator: 2% stopped
operating in 2022 (NOT_APPLICABLE), 2% excluded, 8% with no emissions entered (C, some having
surrendered), 60% covered (A; a fifth using CCER up to the 5% cap, some surrendering twice) and
28% short (B; a tenth with nothing surrendered). `expected` works out, from the seed alone, what
the status and the close must say.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from cets.adapters.sql import compliance_tables as c
from cets.adapters.sql.store import SqlStore
from cets.domain.compliance.status import EXCLUDED_YEAR, Status
from cets.domain.ids import AccountId, TransferId
from cets.domain.ledger.model import Purpose, Transfer, TransferFlags, default_flags
from cets.domain.policy import Policy
from cets.domain.registry.holders import AUTHORITY, Holder, HolderKind
from cets.domain.units import CCER, cea
from cets.service.clock import SHANGHAI, SettableClock, to_us
from cets.service.compliance import Compliance
from cets.service.ports import AccountKey, AccountSpec, Command
from cets.service.registry import Registry
from cets.service.surrender import offset_hold_id

YEAR, PERIOD, CEA = 2023, "2023", cea(2023)
REF = f"period:{PERIOD}"
PRICE_FEN, MULTIPLE = 8_000, 5  # penalty: 5 x the shortfall at 80.00 CNY/t (nothing traded)
POLICY = Policy()
SURRENDERING = datetime(2024, 6, 28, 10, 0, tzinfo=SHANGHAI)
BATCH = 10_000
ACTOR = "sim"


class Entity(NamedTuple):
    """One key emitter as seeded, with the status it must get."""

    holder: str
    expected: Status
    emissions: int | str | None  # tonnes, EXCLUDED_YEAR, or None: not entered
    cea: tuple[int, ...] = ()  # CEA surrenders, each its own row
    ccer_used: int = 0
    ccer_pending: int = 0
    last_year: int | None = None  # operation ended (2022: before the period)


class Tally(NamedTuple):
    counts: dict[str, int]
    obligation: int
    surrendered: int
    shortfall: int = 0
    penalty_fen: int = 0
    lapsed: int = 0  # offsets still pending at the close


def plan(entities: int, seed: int) -> list[Entity]:
    rng = random.Random(seed)
    out = []
    for i in range(entities):
        holder, draw = f"KE{i:06d}", rng.random()
        tonnes = rng.randrange(26_000, 5_000_000)  # a key emitter emits >= 26,000 t a year
        cap = tonnes * 5 // 100  # the offset cap, 5% of the obligation
        ccer = rng.randrange(1, cap + 1) if rng.random() < 0.2 else 0
        pending = rng.randrange(1, 1_000) if rng.random() < 0.005 else 0
        if draw < 0.02:
            out.append(Entity(holder, Status.NOT_APPLICABLE, None, last_year=2022))
        elif draw < 0.04:
            out.append(Entity(holder, Status.EXCLUDED, EXCLUDED_YEAR))
        elif draw < 0.12:
            some = (rng.randrange(1, tonnes),) if rng.random() < 0.3 else ()
            out.append(Entity(holder, Status.C, None, some))
        elif draw < 0.72:
            rest = tonnes - ccer + (rng.randrange(1, 1_000) if rng.random() < 0.1 else 0)
            split = rng.randrange(1, rest) if rng.random() < 0.2 else 0
            parts = (split, rest - split) if split else (rest,)
            out.append(Entity(holder, Status.A, tonnes, parts, ccer, pending))
        else:
            paid = 0 if rng.random() < 0.1 else rng.randrange(tonnes * 4 // 5, tonnes - ccer)
            out.append(Entity(holder, Status.B, tonnes, (paid,) if paid else (), ccer, pending))
    return out


def expected(entities: list[Entity]) -> Tally:
    """What the close must record, worked out from the seed alone."""
    obligation = surrendered = shortfall = 0
    for e in entities:
        owed = e.emissions if isinstance(e.emissions, int) else 0
        paid = sum(e.cea) + e.ccer_used
        obligation, surrendered = obligation + owed, surrendered + paid
        shortfall += owed - paid if e.expected == Status.B else 0
    counts = dict(Counter(e.expected.value for e in entities))
    penalty = shortfall * PRICE_FEN * MULTIPLE
    lapsed = sum(1 for e in entities if e.ccer_pending)
    return Tally(counts, obligation, surrendered, shortfall, penalty, lapsed)


# -- seeding (not timed) -----------------------------------------------------------------------


def seed(path: Path, entities: list[Entity]) -> None:
    store = SqlStore.open(f"sqlite:///{path}")
    clock = SettableClock(SURRENDERING)
    now = to_us(SURRENDERING)
    rules = {"penalty_reference_price_fen": PRICE_FEN}
    assert Compliance(store, clock, POLICY).open_period("open-2023", YEAR, rules=rules).ok
    ids = _holders_and_accounts(store, entities, now)
    allocated = sum(sum(e.cea) for e in entities)
    assert Registry(store, clock).issue("issue-cea-2023", CEA, allocated, actor=ACTOR).ok
    for commands in _ledger_commands(entities, ids):
        for lo in range(0, len(commands), BATCH):
            with store.unit_of_work() as uow:
                results = uow.submit(commands[lo : lo + BATCH], now)
                assert all(r.ok for r in results), next(r for r in results if not r.ok)
                uow.commit()
    _compliance_rows(store, entities, now)
    with store.unit_of_work() as uow:  # the surrender accounts hold what the rows say
        keys = [AccountKey(AUTHORITY, Purpose.surrender, a) for a in (CEA, CCER)]
        to_cea, to_ccer = (uow.accounts(keys)[k] for k in keys)
    assert to_cea.credits_posted == allocated
    assert to_ccer.credits_posted == sum(e.ccer_used for e in entities)
    assert to_ccer.credits_pending == sum(e.ccer_pending for e in entities)
    store.close()


def surrenders_of(e: Entity) -> Iterator[tuple[str, str, int, str]]:
    """(surrender id, asset, quantity, state) of each surrender the entity made."""
    for n, quantity in enumerate(e.cea):
        yield f"S-{e.holder}-{n}", CEA, quantity, "used"
    if e.ccer_used:
        yield f"U-{e.holder}", CCER, e.ccer_used, "used"
    if e.ccer_pending:
        yield f"P-{e.holder}", CCER, e.ccer_pending, "pending"


def _holders_and_accounts(
    store: SqlStore, entities: list[Entity], now: int
) -> dict[AccountKey, AccountId]:
    """Open the key emitters and the accounts the seed moves units through; their ids."""
    keys = [
        AccountKey(AUTHORITY, p, a)
        for p in (Purpose.issuance, Purpose.surrender)
        for a in (CEA, CCER)
    ]
    keys.append(AccountKey(AUTHORITY, Purpose.reserve, CEA))
    ids: dict[AccountKey, AccountId] = {}
    for lo in range(0, len(entities), 5_000):
        chunk = entities[lo : lo + 5_000]
        for e in chunk:
            assets = {asset for _, asset, _, _ in surrenders_of(e)}
            keys += [AccountKey(e.holder, Purpose.holding, a) for a in sorted(assets)]
        with store.unit_of_work() as uow:
            holders = [
                Holder(e.holder, HolderKind.key_emitter, f"Emitter {e.holder}") for e in chunk
            ]
            uow.open_holders(holders, actor=ACTOR, now_us=now)
            specs = [AccountSpec(k, default_flags(k.purpose)) for k in keys]
            opened = uow.open_accounts(specs, actor=ACTOR, now_us=now)
            uow.commit()
        ids.update({k: a.id for k, a in opened.items()})
        keys = []
    return ids


def _ledger_commands(
    entities: list[Entity], ids: dict[AccountKey, AccountId]
) -> tuple[list[Command], ...]:
    """Three passes, a command a transfer: the units in (CEA allocated, CCER issued); the
    surrenders and the offset holds; the offsets used (their holds posted)."""
    reserve = ids[AccountKey(AUTHORITY, Purpose.reserve, CEA)]
    issuance = ids[AccountKey(AUTHORITY, Purpose.issuance, CCER)]
    to_cea = ids[AccountKey(AUTHORITY, Purpose.surrender, CEA)]
    to_ccer = ids[AccountKey(AUTHORITY, Purpose.surrender, CCER)]
    units_in: list[Command] = []
    surrenders: list[Command] = []
    used: list[Command] = []
    for e in entities:
        if e.cea:
            holding = ids[AccountKey(e.holder, Purpose.holding, CEA)]
            units_in.append(_move(f"alloc-{e.holder}", reserve, holding, sum(e.cea), "allocate"))
        for sid, asset, quantity, state in surrenders_of(e):
            if asset == CEA:
                surrenders.append(_move(sid, holding, to_cea, quantity, "surrender"))
                continue
            ccer, hold = ids[AccountKey(e.holder, Purpose.holding, CCER)], offset_hold_id(sid)
            units_in.append(_move(f"ccer-{sid}", issuance, ccer, quantity, "issue"))
            surrenders.append(_move(hold, ccer, to_ccer, quantity, "offset", TransferFlags.PENDING))
            if state == "used":
                post = TransferFlags.POST_PENDING
                used.append(_move(f"use-{sid}", ccer, to_ccer, 0, "offset", post, hold))
    return units_in, surrenders, used


def _move(
    tid: str,
    debit: AccountId,
    credit: AccountId,
    amount: int,
    code: str,
    flags: int = 0,
    pending: str | None = None,
) -> Command:
    """A command of one transfer: CCER issued and offset, CEA-2023 otherwise."""
    asset = CCER if code in ("issue", "offset") else CEA
    ref = None if code in ("issue", "allocate") else REF
    hold = None if pending is None else TransferId(pending)
    moved = Transfer(TransferId(tid), debit, credit, asset, amount, code, int(flags), hold, ref)
    return Command(f"bench_{code}", ACTOR, {"id": tid}, (moved,))


def _compliance_rows(store: SqlStore, entities: list[Entity], now: int) -> None:
    """Emissions, operation years and the surrenders rows, multi-row, as the service writes them."""
    emissions, surrenders, years = [], [], []
    for e in entities:
        if e.emissions is not None:
            tonnes = e.emissions if isinstance(e.emissions, int) else None  # None: excluded
            emissions.append((e.holder, YEAR, tonnes, None))
        if e.last_year is not None:
            years.append({"holder": e.holder, "first_year": 2013, "last_year": e.last_year})
        for sid, asset, quantity, state in surrenders_of(e):
            kind = "surrender" if asset == CEA else "offset"
            decided = now if kind == "offset" and state == "used" else None
            surrenders.append(
                {"id": sid, "holder": e.holder, "period": PERIOD, "asset": asset, "kind": kind,
                 "quantity": quantity, "state": state, "at": now, "decided_at": decided}
            )  # fmt: skip
    with store.unit_of_work() as uow:
        uow.lock()
        uow.write_emissions(emissions, command="bench-emissions", at=now, by=AUTHORITY)
        uow.conn.execute(c.surrenders.insert(), surrenders)
        uow.conn.execute(c.compliance_entities.insert(), years)
        body = {"emissions": len(emissions), "surrenders": len(surrenders)}
        uow.journal("bench_compliance_rows", ACTOR, body, now)
        uow.commit()


# -- measuring ---------------------------------------------------------------------------------
