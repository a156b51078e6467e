"""The canonical text of a command body: what the journal hashes and idempotency compares."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8; integers only for amounts (floats never reach here).
    Dates are ISO text and dataclasses their fields (orjson's own rules); a Decimal (a benchmark,
    a correction factor) is its exact text."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=_exact).decode()


def _exact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} has no canonical JSON form")
