"""What every write of the CLI's command groups takes: who acts, where and when (`--id`, the
command's client id and idempotency key, default a new one; `--db`; `--as`; `--config`; `--at`),
registered once for all of them (`write`)."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from cets.entrypoints import cli_admin as admin
from cets.entrypoints.cli_market_view import AtOption

ClientId = Annotated[
    str | None, typer.Option("--id", help="Client id (idempotency key); default: new.")
]


@dataclass(frozen=True)
class Act:
    """Who acts, where and when: the options every write takes."""

    cmd_id: str
    db: str | None
    actor: str
    config: Path | None
    at: str | None


WRITE_OPTIONS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=option)
    for name, option, default in (
        ("cmd_id", ClientId, None),
        ("db", admin.DbOption, None),
        ("actor", admin.AsOption, "admin"),
        ("config", admin.ConfigOption, None),
        ("at", AtOption, None),
    )
]
Write = Callable[..., None]


def write(app: typer.Typer, name: str) -> Callable[[Write], Write]:
    """Register `command(act, ...)` as `name` of `app`, with the options every write takes
    (--id, default a new id; --db; --as; --config; --at) added after its own and handed to it
    as `act`. Typer reads the signature, so every write states them once, here."""

    def register(command: Write) -> Write:
        own = list(inspect.signature(command, eval_str=True).parameters.values())[1:]

        def run(**values: Any) -> None:
            cmd_id, *rest = (values.pop(p.name) for p in WRITE_OPTIONS)
            command(Act(cmd_id or f"cli-{uuid.uuid4().hex[:16]}", *rest), **values)

        run.__signature__ = inspect.Signature([*own, *WRITE_OPTIONS])  # type: ignore[attr-defined]
        run.__doc__ = command.__doc__
        app.command(name)(run)
        return command

    return register
