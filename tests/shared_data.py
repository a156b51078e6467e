"""Where the project's read-only public data lives: `../shared/data` beside the checkout (see
the developers' guide), or wherever `CETS_SHARED_DATA` points. Tests that use it fail, rather
than skip, when it is missing: CI has it."""

from __future__ import annotations

import os
from pathlib import Path


def shared_data(*parts: str) -> Path:
    configured = os.environ.get("CETS_SHARED_DATA")
    candidates = [Path(configured)] if configured else []
    here = Path(__file__).resolve()
    candidates += [parent / "shared" / "data" for parent in here.parents]
    for root in candidates:
        if root.is_dir():
            return root.joinpath(*parts)
    raise FileNotFoundError(
        "no shared data directory: expected ../shared/data beside the checkout, "
        "or set CETS_SHARED_DATA"
    )
