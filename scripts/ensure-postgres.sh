#!/usr/bin/env bash
# Make sure PostgreSQL server binaries (pg_ctl, initdb, postgres) are on this machine.
#
# The test suite (tests/conftest.py) starts its own throwaway cluster from these binaries; it
# never uses a system-wide cluster. So: if the binaries are found, say where and stop. Otherwise
# install Debian's "postgresql" package and stop whatever cluster the package auto-started, so
# it does not hold port 5432 or run in the background.
set -euo pipefail

# Print the directory holding pg_ctl and initdb, or nothing.
find_pg_bin_dir() {
    local pg_ctl dir
    if pg_ctl="$(command -v pg_ctl 2>/dev/null)"; then
        # /usr/local/bin/pg_ctl may be a symlink into /usr/lib/postgresql/N/bin: prefer the real
        # directory, where initdb and postgres live too.
        for dir in "$(dirname "$(readlink -f "$pg_ctl")")" "$(dirname "$pg_ctl")"; do
            if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
                echo "$dir"
                return 0
            fi
        done
    fi
    # Debian/Ubuntu layout: /usr/lib/postgresql/<major>/bin, highest major wins.
    local best=""
    while IFS= read -r dir; do
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
            best="$dir"
        fi
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -V)
    if [ -n "$best" ]; then
        echo "$best"
    fi
}

bin_dir="$(find_pg_bin_dir)"
if [ -n "$bin_dir" ]; then
    echo "PostgreSQL binaries found in $bin_dir ($("$bin_dir/pg_ctl" --version))"
    exit 0
fi

echo "PostgreSQL binaries not found; installing Debian's postgresql package" >&2

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: apt-get is not available; install PostgreSQL (>= 13) server binaries by hand" >&2
    exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo_cmd=""
elif command -v sudo >/dev/null 2>&1; then
    sudo_cmd="sudo"
else
    echo "error: not root and sudo is missing; cannot install PostgreSQL" >&2
    exit 1
fi

# Run a command as root (directly when we are root, else through sudo).
as_root() {
    if [ -n "$sudo_cmd" ]; then
        "$sudo_cmd" "$@"
    else
        "$@"
    fi
}

as_root env DEBIAN_FRONTEND=noninteractive apt-get update
as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends postgresql

# The package creates and may start a "main" cluster. The suite does not use it: stop it.
# In a container there is often no init system, so these may fail; that is fine.
if command -v pg_lsclusters >/dev/null 2>&1; then
    while read -r version name _rest; do
        case "$version" in
            '' | Ver) continue ;;
        esac
        as_root pg_ctlcluster "$version" "$name" stop >/dev/null 2>&1 || true
    done < <(pg_lsclusters 2>/dev/null || true)
fi
if command -v service >/dev/null 2>&1; then
    as_root service postgresql stop >/dev/null 2>&1 || true
fi

bin_dir="$(find_pg_bin_dir)"
if [ -z "$bin_dir" ]; then
    echo "error: installed postgresql but still cannot find pg_ctl/initdb" >&2
    exit 1
fi
echo "PostgreSQL binaries installed in $bin_dir ($("$bin_dir/pg_ctl" --version))"
