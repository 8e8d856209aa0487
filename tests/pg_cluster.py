"""Throw-away PostgreSQL servers for tests that stop, restart or replicate a server: never the
shared one on 5432, which other tests use at the same time.

``scratch_server()`` makes a cluster in a temporary directory with ``initdb`` and starts it on a
free loopback port; ``standby_of(server)`` makes a hot standby of it with ``pg_basebackup -R``
(streaming replication).  The server binaries are Debian's (``/usr/lib/postgresql/N/bin``);
PostgreSQL refuses to run as root, so under root they run as the ``postgres`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def _bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail("PostgreSQL server binaries are missing: install Debian's 'postgresql' package")
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    subprocess.run(_as_server_user(command), check=True, capture_output=True, timeout=120)  # noqa: S603


@dataclass
class Server:
    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = str(self.data / "log")
        _run([str(_bin_dir() / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"])

    def stop(self) -> None:
        _run([str(_bin_dir() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def wait_ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready = subprocess.run(  # noqa: S603
                [str(_bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError(f"the server on port {self.port} did not become ready")


@contextmanager
def _folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="anlian-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def scratch_server() -> Iterator[Server]:
    """A fresh cluster (trust auth on loopback, replication allowed), started; stopped after."""
    with _folder() as folder:
        server = Server(folder / "data", _free_port())
        _run([str(_bin_dir() / "initdb"), "-D", str(server.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        server.start()
        try:
            yield server
        finally:
            _stop_quietly(server)


@contextmanager
def standby_of(primary: Server) -> Iterator[Server]:
    """A hot standby streaming from ``primary``, started; stopped after."""
    with _folder() as folder:
        standby = Server(folder / "data", _free_port())
        _run(
            [
                str(_bin_dir() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                "-D", str(standby.data), "-R", "-X", "stream",
            ]
        )  # fmt: skip
        standby.start()
        try:
            yield standby
        finally:
            _stop_quietly(standby)


def _stop_quietly(server: Server) -> None:
    try:
        server.stop()
    except subprocess.CalledProcessError:
        pass  # already stopped by the test
