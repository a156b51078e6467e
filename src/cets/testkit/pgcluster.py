"""A throwaway PostgreSQL cluster on loopback, for the test suite and the benchmarks.

`start_cluster()` runs `initdb` + `pg_ctl start` on a fresh temp dir, listening on 127.0.0.1 at a
free port (unix socket in the temp dir); `PostgresServer.stop()` stops it and removes the dir. As
root it runs PostgreSQL as the `postgres` OS user (PostgreSQL refuses to run as root). Raises
`PostgresUnavailableError` when the server binaries or that user are missing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

BIN_DIR_ENV = "CETS_PG_BIN_DIR"  # optional: where pg_ctl/initdb/postgres are
OS_USER = "postgres"  # the OS account initdb/pg_ctl run as when we are root
DB_USER = "postgres"  # the database superuser created by initdb -U
START_ATTEMPTS = 3


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL cannot be started here; the message says why."""


def _has_server_binaries(directory: Path) -> bool:
    return all(os.access(directory / exe, os.X_OK) for exe in ("pg_ctl", "initdb", "postgres"))


def _version_key(directory: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin -> numeric version, so 15 > 9.6.
    return tuple(int(part) for part in re.findall(r"\d+", directory.parent.name))


def find_postgres_bin_dir() -> Path | None:
    """Directory with pg_ctl, initdb and postgres.

    ``$CETS_PG_BIN_DIR`` if set (and nothing else then), else pg_ctl on PATH, else the highest
    /usr/lib/postgresql/*/bin.
    """
    override = os.environ.get(BIN_DIR_ENV)
    if override:
        return Path(override) if _has_server_binaries(Path(override)) else None
    on_path = shutil.which("pg_ctl")
    if on_path:
        # A PATH entry may be a symlink (e.g. /usr/local/bin/pg_ctl -> /usr/lib/postgresql/15/bin):
        # the real directory is the one that also holds initdb and postgres.
        for candidate in (Path(on_path).resolve().parent, Path(on_path).parent):
            if _has_server_binaries(candidate):
                return candidate
    candidates = [d for d in Path("/usr/lib/postgresql").glob("*/bin") if _has_server_binaries(d)]
    if candidates:
        return max(candidates, key=_version_key)
    return None


# --------------------------------------------------------------------------- the cluster


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _world_traversable(path: Path) -> bool:
    """True if another user (postgres) can reach ``path``: every ancestor has o+x."""
    for part in (path, *path.parents):
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class PostgresServer:
    """A running throwaway cluster; superuser ``postgres`` with trust auth on 127.0.0.1."""

    bin_dir: Path
    base_dir: Path  # temp dir: data/, log, unix socket
    host: str = "127.0.0.1"
    port: int = 0
    user: str = DB_USER
    pid: int | None = None
    run_as: list[str] = field(default_factory=list)  # ["runuser", "-u", "postgres", "--"] as root
    _stopped: bool = False

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "log"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL for a database in this cluster."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", *, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname=dbname,
            autocommit=autocommit,
            connect_timeout=10,
        )

    def create_database(self, prefix: str = "cets_test") -> str:
        """Create a fresh, uniquely named database; return its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:16]}"
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, url_or_name: str) -> None:
        """Drop a database (by name or by the URL create_database returned), even if in use."""
        name = url_or_name.rsplit("/", 1)[-1].split("?", 1)[0]
        with self.connect() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- lifecycle ----------------------------------------------------------------------------

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.run_as, *args],
            cwd=self.base_dir,  # postgres may not be allowed into the caller's cwd
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _fail(self, what: str, proc: subprocess.CompletedProcess[str]) -> RuntimeError:
        log = ""
        with contextlib.suppress(OSError):
            log = self.log_file.read_text(errors="replace")[-4000:]
        return RuntimeError(
            f"{what} failed (exit {proc.returncode})\n"
            f"command: {' '.join(map(str, proc.args))}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}\nserver log:\n{log}"
        )

    def init(self) -> None:
        proc = self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-A",
            "trust",
            "-U",
            self.user,
            "--no-sync",
            "-E",
            "UTF8",
            # C collation: byte order, same on every machine and the same as SQLite's default.
            "--locale=C",
        )
        if proc.returncode != 0:
            raise self._fail("initdb", proc)

    def start(self) -> None:
        last: subprocess.CompletedProcess[str] | None = None
        for _ in range(START_ATTEMPTS):  # the free port may be taken before we bind it
            self.port = _free_port()
            options = (
                f"-c listen_addresses={self.host} -p {self.port} -k {self.socket_dir} "
                "-c fsync=on -c max_connections=200"
            )
            last = self._run(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log_file),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            )
            self.pid = self._read_pid()
            if last.returncode == 0:
                return
            self._kill()  # a half-started postmaster must not linger
        assert last is not None
        raise self._fail("pg_ctl start", last)

    def _read_pid(self) -> int | None:
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
            return int(first_line.strip())
        except (OSError, IndexError, ValueError):
            return self.pid

    def _kill(self) -> None:
        pid = self.pid
        if pid is None or not _pid_alive(pid):
            return
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGQUIT)  # postmaster: immediate shutdown
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.1)
        if _pid_alive(pid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        """Stop the cluster (fast, else kill the postmaster) and remove the temp dir. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if self.data_dir.exists():
                stopped = False
                try:
                    proc = self._run(
                        str(self.bin_dir / "pg_ctl"),
                        "-D",
                        str(self.data_dir),
                        "-m",
                        "fast",
                        "-w",
                        "-t",
                        "30",
                        "stop",
                        timeout=60,
                    )
                    stopped = proc.returncode == 0
                except (OSError, subprocess.SubprocessError):
                    pass
                if not stopped or (self.pid is not None and _pid_alive(self.pid)):
                    self._kill()
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)


def start_cluster() -> PostgresServer:
    """Start a throwaway cluster; raise `PostgresUnavailableError` when that cannot be done."""
    bin_dir = find_postgres_bin_dir()
    if bin_dir is None:
        raise PostgresUnavailableError(
            f"PostgreSQL server binaries not found (not in ${BIN_DIR_ENV}, on PATH or in "
            "/usr/lib/postgresql/*/bin); run `make postgres` or scripts/ensure-postgres.sh"
        )

    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    tmp_root: str | None = None
    if os.geteuid() == 0:
        # PostgreSQL refuses to run as root: run initdb/pg_ctl as the postgres OS user.
        runuser = shutil.which("runuser") or next(
            (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
        )
        try:
            owner = pwd.getpwnam(OS_USER)
        except KeyError:
            owner = None
        if runuser is None or owner is None:
            raise PostgresUnavailableError(
                f"running as root but cannot run PostgreSQL as the {OS_USER!r} user "
                f"(runuser: {runuser}, user exists: {owner is not None})"
            )
        run_as = [runuser, "-u", OS_USER, "--"]
        if not _world_traversable(Path(tempfile.gettempdir())):
            tmp_root = "/tmp"

    base_dir = Path(tempfile.mkdtemp(prefix="cets-pg-", dir=tmp_root))
    if owner is not None:
        os.chown(base_dir, owner.pw_uid, owner.pw_gid)
    server = PostgresServer(bin_dir=bin_dir, base_dir=base_dir, run_as=run_as)
    atexit.register(server.stop)  # also on Ctrl-C / an aborted session
    try:
        server.init()
        server.start()
    except BaseException:
        server.stop()
        atexit.unregister(server.stop)
        raise
    return server
