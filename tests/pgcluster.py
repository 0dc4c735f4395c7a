"""A throwaway PostgreSQL cluster for tests and benchmarks: `initdb` + `pg_ctl` in a temp folder.

Debian's server binaries live in /usr/lib/postgresql/<version>/bin (package `postgresql`;
`.ci/run` installs it). `initdb` and `pg_ctl` refuse to run as root, and CI runs as root, so as
root the cluster runs as an unprivileged system user: `postgres` (made by Debian's package) or,
if that is missing, `coach-pg`, created here once with useradd. As any other user it simply runs
as that user. The server listens on 127.0.0.1 only, on a free port, with `trust` authentication:
nothing but this machine's own processes can reach it, and it is deleted at the end.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROLE = "coach"  # the superuser role initdb creates; the bot connects as it
FALLBACK_OS_USER = "coach-pg"


class ClusterError(RuntimeError):
    """The throwaway cluster could not be set up (binaries missing, initdb or start failed)."""


def find_bin_dir() -> Path:
    """Where initdb/pg_ctl are: $COACH_PG_BIN, the newest Debian version, or pg_config's."""
    candidates = [os.environ.get("COACH_PG_BIN", "")]
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted(
            (p for p in debian.iterdir() if p.name.isdigit()), key=lambda p: -int(p.name)
        )
        candidates += [str(v / "bin") for v in versions]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, check=True, text=True)
        candidates.append(out.stdout.strip())
    for candidate in filter(None, candidates):
        if (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    raise ClusterError(
        "PostgreSQL server binaries not found (initdb, pg_ctl): install Debian's `postgresql` "
        "package (`apt-get install postgresql`) or set COACH_PG_BIN"
    )


def available() -> bool:
    try:
        find_bin_dir()
    except ClusterError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _os_user() -> str | None:
    """The unprivileged user to run the server as (None: run as ourselves, not root)."""
    if os.geteuid() != 0:
        return None
    for name in (os.environ.get("COACH_PG_OS_USER"), "postgres", FALLBACK_OS_USER):
        if not name:
            continue
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
         FALLBACK_OS_USER],
        check=True, capture_output=True,
    )  # fmt: skip
    return FALLBACK_OS_USER


class PgCluster:
    """`start()` runs initdb and the server; `stop()` removes everything. Also a context manager.

    `durable=False` (tests) turns fsync off, which only matters if the machine itself crashes;
    benchmarks keep PostgreSQL's durable defaults to compare fairly with the fsync'd file store.
    """

    def __init__(self, *, durable: bool = False, max_connections: int = 200) -> None:
        self.bin = find_bin_dir()
        self.durable = durable
        self.max_connections = max_connections
        self.user = _os_user()
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="coach-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    # ------------------------------------------------------------------ commands

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = list(args)
        if self.user is not None:
            argv = ["runuser", "-u", self.user, "--", *argv]
        try:
            return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=timeout)
        except subprocess.CalledProcessError as exc:
            tail = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise ClusterError(f"{args[0]} failed: {exc.stderr.strip()}\n{tail}") from exc

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), *args)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> PgCluster:
        if self.user is not None:
            shutil.chown(self.root, self.user)
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", ROLE, "--auth=trust",
            "--encoding=UTF8", "--locale=C", *(() if self.durable else ("--no-sync",)),
        )  # fmt: skip
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "max_connections": str(self.max_connections),
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        conf = "".join(f"{key} = '{value}'\n" for key, value in settings.items())
        with (self.data / "postgresql.conf").open("a") as f:
            f.write(conf)
        self.start_server()
        return self

    def start_server(self) -> None:
        """(Re)start the server on the same port and data (fault tests stop it meanwhile)."""
        self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log))

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping the data: "fast" ends sessions, "immediate" is a crash."""
        self._pg_ctl("stop", "-w", "-m", mode)

    def stop(self) -> None:
        with contextlib.suppress(ClusterError, subprocess.TimeoutExpired):
            if (self.data / "postmaster.pid").exists():
                self.stop_server("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ databases

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{ROLE}@127.0.0.1:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> None:
        """Run one statement with autocommit (CREATE/DROP DATABASE need it)."""
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]  # our own literal SQL

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new database (copied from `template` if given, which is fast); returns its URL."""
        from psycopg import sql

        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(query)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def wait_ready(self, timeout: float = 30) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(self.url(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
