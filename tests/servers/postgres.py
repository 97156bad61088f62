"""A throwaway PostgreSQL cluster: `initdb` into a temporary directory, a free port,
started and torn down by the caller.

    with PostgresServer() as server:
        url = server.url()          # postgresql://postgres@127.0.0.1:PORT/postgres
        server.restart()            # the same data, the same port

The binaries are found on PATH or under /usr/lib/postgresql/*/bin. `initdb` and
`postgres` refuse to run as root, so as root the cluster runs as the `postgres` system
user (or `nobody` when there is none).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from tests.servers.base import ThrowawayServer

FAST_SETTINGS = {
    # Tests need correctness, not durability against power loss: committed data still
    # reaches the kernel before a commit returns, so a crash of the server loses nothing.
    "fsync": "off",
    "full_page_writes": "off",
}
QUIET_SETTINGS = {
    # Autovacuum's ANALYZE holds a transaction id for a moment, which holds the event
    # store's visibility horizon back; tests that read right after an append want none.
    "autovacuum": "off",
    "max_connections": "200",
}


def find_bindir() -> Path:
    """The directory holding initdb, pg_ctl and postgres (the newest version found)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries not found (no pg_ctl on PATH or in"
            " /usr/lib/postgresql/*/bin); install the 'postgresql' package"
            " or set EVENTBOOK_TEST_POSTGRES_URL"
        )
    return candidates[-1].parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer(ThrowawayServer):
    """One cluster in a temporary directory, owned by this object."""

    def __init__(self, *, durable: bool = False, settings: dict[str, str] | None = None) -> None:
        self.bindir = find_bindir()
        self.settings = {**QUIET_SETTINGS, **({} if durable else FAST_SETTINGS), **(settings or {})}
        self.port = 0
        self._root: Path | None = None
        self._running = False
        self._user = _unprivileged_user()

    @property
    def datadir(self) -> Path:
        assert self._root is not None, "the server was not started"
        return self._root / "data"

    def url(self, database: str = "postgres", **query: str) -> str:
        suffix = f"?{urlencode(query)}" if query else ""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}{suffix}"

    def start(self) -> None:
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="eventbook-pg-"))
            self._root.chmod(0o755)  # the server's user must reach its data directory
            self._chown(self._root)
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
        for attempt in range(3):  # another process may take the free port first
            self.port = free_port()
            self._write_settings()
            try:
                self._pg_ctl("start", "-l", str(self._log), "-t", "60")
                self._running = True
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def restart(self, mode: str = "fast") -> None:
        """Restart on the same port; `mode` is pg_ctl's shutdown mode (fast, immediate)."""
        self._pg_ctl("restart", "-m", mode, "-l", str(self._log), "-t", "60")

    def start_again(self) -> None:
        """Start a stopped server on the port it had (clients reconnect to the same URL)."""
        self._pg_ctl("start", "-l", str(self._log), "-t", "60")
        self._running = True

    def stop(self, mode: str = "fast") -> None:
        if self._running:
            self._running = False
            self._pg_ctl("stop", "-m", mode, "-t", "60")

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            if self._root is not None:
                shutil.rmtree(self._root, ignore_errors=True)
                self._root = None

    # -- helpers -----------------------------------------------------------------------------

    @property
    def _log(self) -> Path:
        assert self._root is not None
        return self._root / "server.log"

    def _write_settings(self) -> None:
        lines = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self._root}'",
            **{key: _quoted(value) for key, value in self.settings.items()},
        }
        conf = self.datadir / "postgresql.auto.conf"
        conf.write_text("".join(f"{key} = {value}\n" for key, value in lines.items()))
        self._chown(conf)

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-w", *args)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=self._root,
            user=self._user.pw_uid if self._user else None,
            group=self._user.pw_gid if self._user else None,
            env={**os.environ, "LC_ALL": "C"},
            check=False,
        )
        if done.returncode != 0:
            log = self._log.read_text()[-3000:] if self._log.exists() else ""
            output = f"{done.stdout}{done.stderr}\n{log}"
            raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{output}")

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The user to run the server as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists")


def _quoted(value: str) -> str:
    return value if value.replace(".", "").isalnum() else "'" + value.replace("'", "''") + "'"
