#!/usr/bin/env bash
# Make sure Debian's Chromium is on this machine for the dashboard's browser tests (tests/web).
#
# Playwright drives it through `executable_path`: Playwright's own browser download cannot work
# here (the network reaches only the package registries), so `playwright install` is never run.
# Whatever is missing of Debian's "chromium" and a CJK font ("fonts-noto-cjk") is installed.
set -euo pipefail

# Chinese labels need a CJK font, or the screenshots the tests save show boxes.
missing=()
if found="$(command -v chromium 2>/dev/null)"; then
    echo "Chromium found: $found ($("$found" --version 2>/dev/null || echo 'version unknown'))"
else
    missing+=(chromium)
fi
if [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
    missing+=(fonts-noto-cjk)
fi
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

echo "installing Debian's ${missing[*]}" >&2
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get is not available; install Chromium by hand (or set CETS_CHROMIUM)" >&2
    exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo)
else
    echo "error: not root and sudo is missing; cannot install Chromium" >&2
    exit 1
fi
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
command -v chromium
