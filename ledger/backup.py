"""Backups of the whole database and restores from them.

SQLite: the online backup API, copying from one read transaction, so the copy is the database
as it was at one instant even while writers append (in WAL mode they are not blocked, and a
copy made in steps without that transaction starts over at every commit and may never end).
PostgreSQL: ``pg_dump --format=custom``, which reads one snapshot, and ``pg_restore`` in one
transaction, so a failed restore leaves the database as it was.

A backup holds no signing key: the key is a secret kept apart (``var/ledger-signing-key.pem``).
A restore must be checked before it is trusted: the caller verifies the restored ledger against
the checkpoints published before the backup (``python -m ledger restore`` does).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError

from ledger import migrate
from ledger.db import store
from ledger.db.engine import make_engine, transaction
from ledger.errors import LedgerError

SQLITE_STEP_PAGES = 1024
PG_BIN_DIRS = "/usr/lib/postgresql/*/bin"


class BackupError(LedgerError):
    """A backup or a restore could not be made; nothing was replaced."""

    title = "Backup or restore failed"
    type = "backup-failed"
    status = 500


@dataclass(frozen=True)
class Progress:
    """How long operations report: SQLite in pages copied, PostgreSQL in the tables that
    ``pg_dump``/``pg_restore`` say they are working on."""

    pages: Callable[[int, int], None] = lambda done, total: None
    note: Callable[[str], None] = lambda message: None


@dataclass(frozen=True)
class Done:
    path: Path
    bytes: int
    entries: int | None  # the ledger's size in the copy, when it can be read without a restore


def backend(url: str) -> str:
    name = make_url(url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(f"cannot back up a {name} database: only SQLite and PostgreSQL are supported")
    return name


def ledger_size(url: str) -> int | None:
    """Entries in the database's ledger; None when there is no database or no ledger table."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not _sqlite_path(parsed).exists():
        return None
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("ledger_entries"):
            return None
        with transaction(engine, readonly=True) as session:
            return store.tree_size(session)
    except DBAPIError as exc:
        raise BackupError(
            f"cannot read the database {parsed.render_as_string(hide_password=True)}: {exc.orig}"
        ) from exc
    finally:
        engine.dispose()


def backup(url: str, target: Path, progress: Progress = Progress()) -> Done:
    """Copy the database to ``target``, replacing it only once the copy is complete."""
    if target.is_dir():
        raise BackupError(f"{target} is a directory: give the backup file's name")
    kind = backend(url)
    if kind == "sqlite":
        source = _sqlite_path(make_url(url))
        if not source.exists():
            raise BackupError(f"there is no database at {source}")
        if target.resolve() == source.resolve():
            raise BackupError(f"{target} is the database itself: give the backup another name")
    target.parent.mkdir(parents=True, exist_ok=True)
    with _partial(target) as partial:
        if kind == "sqlite":
            entries: int | None = _sqlite_backup(source, partial, progress)
        else:
            _pg_dump(make_url(url), partial, progress)
            entries = None
        os.replace(partial, target)
    return Done(target, target.stat().st_size, entries)


def restore(url: str, source: Path, force: bool = False, progress: Progress = Progress()) -> Done:
    """Replace the database's contents with the backup ``source``; refuse to overwrite a
    ledger that has entries unless ``force``.  The backup is checked before anything is touched."""
    if not source.is_file():
        raise BackupError(f"there is no backup file {source}")
    kind = backend(url)
    if kind == "sqlite" and _sqlite_path(make_url(url)).resolve() == source.resolve():
        raise BackupError(f"{source} is the database itself, not a backup of it")
    (_check_sqlite_backup if kind == "sqlite" else _check_pg_backup)(source)
    existing = ledger_size(url)
    if existing and not force:
        raise BackupError(
            f"the database already holds a ledger of {existing} entries; restoring would replace it. "
            "Pass --force to replace it (stop the web server and the job runner first)"
        )
    if kind == "sqlite":
        _sqlite_restore(source, _sqlite_path(make_url(url)), progress)
    else:
        _pg_restore(make_url(url), source, progress)
    return Done(source, source.stat().st_size, ledger_size(url))


def schema_advice(url: str) -> str | None:
    """What to do when a restored database's schema is not this program's: an older backup
    needs ``python -m ledger init`` to migrate it before the web server and the jobs use it."""
    from alembic.config import Config  # only a restore needs it; alembic is slow to import
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(Config(str(migrate.ALEMBIC_INI))).get_heads())
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except DBAPIError:
        found = set()  # not migrated at all
    finally:
        engine.dispose()
    if found == heads:
        return None
    return (
        f"the restored schema is at revision {', '.join(sorted(found)) or 'none'}, this program's is "
        f"{', '.join(sorted(heads))}: run 'python -m ledger init' to migrate it before starting the server"
    )


@contextmanager
def _partial(target: Path) -> Iterator[Path]:
    """A file next to ``target`` to write into, removed if the work fails: a failed backup never
    leaves a half-written file under the backup's name."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        yield partial
    finally:
        partial.unlink(missing_ok=True)


# --- SQLite -------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(url.database)


def _sqlite_backup(source: Path, target: Path, progress: Progress) -> int | None:
    try:
        # mode=rw: never create an empty database where the ledger was expected.
        with closing(sqlite3.connect(f"file:{source}?mode=rw", uri=True, isolation_level=None, timeout=60)) as src:
            src.execute("BEGIN")
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the read snapshot starts here
            with closing(sqlite3.connect(target, isolation_level=None)) as dst:
                src.backup(dst, pages=SQLITE_STEP_PAGES, progress=_pages(progress))
                src.execute("COMMIT")
                # One self-contained file: the copy carries the source's WAL flag in its header.
                dst.execute("PRAGMA journal_mode=DELETE")
                return _sqlite_entries(dst)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source}: {exc}") from exc


def _pages(progress: Progress) -> Callable[[int, int, int], None]:
    return lambda _status, left, total: progress.pages(total - left, total)


def _sqlite_entries(connection: sqlite3.Connection) -> int | None:
    found = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'")
    if found.fetchone() is None:
        return None
    (last,) = connection.execute("SELECT max(seq) FROM ledger_entries").fetchone()
    return 0 if last is None else int(last) + 1


def _check_sqlite_backup(source: Path) -> None:
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as db:
            found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'")
            if found.fetchone() is None:
                raise BackupError(f"{source} is an SQLite database but holds no ledger")
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not an SQLite backup of a ledger: {exc}") from exc


def _sqlite_restore(source: Path, target: Path, progress: Progress) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src:
            with closing(sqlite3.connect(target, timeout=60)) as dst:
                # The backup API writes through the destination's own journal (WAL included) and
                # holds its lock to the end: a reader sees the old database or the restored one.
                src.backup(dst, pages=SQLITE_STEP_PAGES, progress=_pages(progress))
    except sqlite3.Error as exc:
        raise BackupError(f"cannot restore {source} into {target}: {exc}") from exc


# --- PostgreSQL ---------------------------------------------------------------------------


def _pg_conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """libpq connection string and environment for the client tools: the password goes in the
    environment (PGPASSWORD), never on a command line that other users can list."""
    from psycopg.conninfo import make_conninfo

    params: dict[str, str] = {str(k): str(v) for k, v in url.query.items() if isinstance(v, str)}
    for key, value in (("host", url.host), ("port", url.port), ("user", url.username), ("dbname", url.database)):
        if value is not None:
            params[key] = str(value)
    env = {**os.environ}
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return make_conninfo(**params), env


def _server_major(url: URL) -> int:
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SHOW server_version_num").scalar_one()) // 10000
    except DBAPIError as exc:
        raise BackupError(f"cannot reach the PostgreSQL database: {exc.orig}") from exc
    finally:
        engine.dispose()


def _tool_major(path: str) -> int | None:
    try:
        # The tools are found by name on PATH or in the fixed Debian directories, never taken from input.
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True)  # noqa: S603
        out = done.stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(found.group(1)) if found else None


def find_pg_tool(name: str, server_major: int) -> str:
    """``pg_dump``/``pg_restore`` from PATH or Debian's versioned directories, at least as new as
    the server (an older pg_dump refuses to dump a newer server)."""
    candidates = [found] if (found := shutil.which(name)) else []
    versioned = sorted(Path("/").glob(PG_BIN_DIRS.lstrip("/") + f"/{name}"), key=_version_key, reverse=True)
    candidates += [str(path) for path in versioned]
    seen: list[str] = []
    for candidate in candidates:
        major = _tool_major(candidate)
        if major is not None and major >= server_major:
            return candidate
        seen.append(f"{candidate} ({major or 'unknown'})")
    if not seen:
        raise BackupError(
            f"{name} was not found on PATH nor in {PG_BIN_DIRS}: install the PostgreSQL client tools "
            f"(Debian: apt-get install postgresql-client-{server_major})"
        )
    raise BackupError(
        f"the server runs PostgreSQL {server_major} but the only {name} found is older: {', '.join(seen)}; "
        f"install postgresql-client-{server_major}"
    )


def _version_key(path: Path) -> int:
    version = path.parent.parent.name
    return int(version) if version.isdigit() else 0


def _run_pg_tool(command: list[str], env: dict[str, str], progress: Progress, what: str) -> None:
    """Run a client tool with --verbose, passing what it works on to ``progress`` and keeping
    the rest of its messages for the error."""
    messages: list[str] = []
    with subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # noqa: S603
                          stderr=subprocess.PIPE, text=True) as process:  # fmt: skip
        for line in process.stderr or ():
            line = line.rstrip()
            if "dumping contents of table" in line or "processing data for table" in line:
                progress.note(line.split(": ", 1)[-1])
            else:
                messages.append(line)
    if process.returncode != 0:
        errors = [m for m in messages if "error" in m.lower() or "fatal" in m.lower()] or messages
        raise BackupError(f"{what} failed (exit {process.returncode}): " + "\n".join(errors[-10:]))


def _pg_dump(url: URL, target: Path, progress: Progress) -> None:
    tool = find_pg_tool("pg_dump", _server_major(url))
    conninfo, env = _pg_conninfo(url)
    command = [tool, "--format=custom", "--verbose", "--no-password", f"--file={target}", f"--dbname={conninfo}"]
    _run_pg_tool(command, env, progress, "pg_dump")


def _check_pg_backup(source: Path) -> None:
    """The file is a pg_dump custom archive with a ledger in it (``pg_restore --list`` reads
    only its table of contents)."""
    tool = find_pg_tool("pg_restore", 0)
    done = subprocess.run([tool, "--list", str(source)], capture_output=True, text=True, timeout=300)  # noqa: S603
    if done.returncode != 0:
        raise BackupError(f"{source} is not a pg_dump custom-format backup: {done.stderr.strip()}")
    if not re.search(r"\bTABLE DATA \S+ ledger_entries\b", done.stdout):
        raise BackupError(f"{source} is a pg_dump backup but holds no ledger")


def _pg_restore(url: URL, source: Path, progress: Progress) -> None:
    tool = find_pg_tool("pg_restore", _server_major(url))
    conninfo, env = _pg_conninfo(url)
    command = [
        tool, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
        "--verbose", "--no-password", f"--dbname={conninfo}", str(source),
    ]  # fmt: skip
    _run_pg_tool(command, env, progress, "pg_restore")
