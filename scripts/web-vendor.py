"""Fetch the dashboard's front-end libraries from the npm registry at build time.

The dashboard loads no CDN at run time: each library below is downloaded once, as the npm
package tarball, checked against the integrity hash pinned here (the `dist.integrity` npm
publishes, so a changed tarball is refused) and the one file the dashboard loads is extracted
into `src/cets/entrypoints/web/static/vendor/`, with the package's licence beside it. A file
already there with the pinned content is kept, so this runs offline after the first time.

    python scripts/web-vendor.py          # make web (run and test depend on it)

Only the standard library is used: Node and npm are not needed.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path
from typing import NamedTuple

REGISTRY = "https://registry.npmjs.org"
VENDOR = Path(__file__).resolve().parent.parent / "src/cets/entrypoints/web/static/vendor"


class Package(NamedTuple):
    name: str
    version: str
    integrity: str  # sha512 of the tarball, as `npm view NAME@VERSION dist.integrity`
    files: tuple[tuple[str, str], ...]  # (path in the tarball, name in vendor/)


PACKAGES = (
    Package(
        "lightweight-charts",
        "5.2.1",
        "sha512-IVwoK1RLFiLPubaKIjNbtjWLnpPMqiABSrTay6whmNa8L1+19292VtHJ+BWyPUuLCwF0tcQlhEWd1CLB2a1nsQ==",
        (
            (
                "package/dist/lightweight-charts.standalone.production.js",
                "lightweight-charts.standalone.production.js",
            ),
            ("package/LICENSE", "lightweight-charts.LICENSE"),
        ),
    ),
)


def _stamp(package: Package) -> Path:
    return VENDOR / f".{package.name}-{package.version}"


def fetch(package: Package) -> None:
    url = f"{REGISTRY}/{package.name}/-/{package.name}-{package.version}.tgz"
    with urllib.request.urlopen(url, timeout=60) as answer:
        tarball = answer.read()
    algorithm, _, expected = package.integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if digest != expected:
        sys.exit(f"{url}: integrity {algorithm}-{digest} is not the pinned {package.integrity}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for inside, name in package.files:
            member = archive.extractfile(inside)
            if member is None:
                sys.exit(f"{url}: no file {inside}")
            (VENDOR / name).write_bytes(member.read())
    _stamp(package).write_text(package.integrity + "\n")


def main() -> int:
    VENDOR.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        present = all((VENDOR / name).exists() for _, name in package.files)
        stamp = _stamp(package)
        if present and stamp.exists() and stamp.read_text().strip() == package.integrity:
            continue
        fetch(package)
        print(f"vendored {package.name}@{package.version} from {REGISTRY}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
