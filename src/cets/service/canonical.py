"""The canonical text of a command body: what the journal hashes and idempotency compares."""

from __future__ import annotations

from typing import Any

import orjson


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8; integers only for amounts (floats never reach here)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
