"""Running the `cets` console script as a user would, in a subprocess, against one database:
shared by the CLI's end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CETS = Path(sys.executable).with_name("cets")


def cets(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("COLUMNS", "CETS_DATABASE_URL", "CETS_PERSON", "CETS_CONFIG")
    }
    return subprocess.run(
        [str(CETS), *args],
        capture_output=True,
        text=True,
        env={**base, "CETS_DATABASE_URL": db},
        timeout=120,
        check=False,
    )


def ok(*args: str, db: str) -> str:
    done = cets(*args, db=db)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def refused(*args: str, db: str, exit_code: int = 1) -> str:
    done = cets(*args, db=db)
    assert done.returncode == exit_code, (args, done.stdout, done.stderr)
    return done.stderr
