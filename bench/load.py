"""Load test: public pages and proofs served by gunicorn on PostgreSQL while writers append scans.

    .venv/bin/python bench/load.py [--entries 1000000] [--workers 4] [--levels 1,2,4,8,16]
                                   [--seconds 20] [--writers 8] [--writer-rate 5] [--keep]

1. A PostgreSQL ledger of ``--entries`` entries: the demo cold chain and elevators written
   through the services (real batches, journeys, temperatures), then filler scan entries
   appended through ``store.append`` in batches of 1,000 until the tree has ``--entries``;
   a signed checkpoint.  ``--keep`` keeps the database and reuses it next time.
2. gunicorn (``--workers`` processes × ``--threads`` threads) serving ``api:create_app()`` on
   a loopback port, with the public rate limit raised (every client here is 127.0.0.1).
3. ``--writers`` threads post ``scan.store`` scans with API keys, each at ``--writer-rate`` per
   second, for the whole run; every acknowledged scan is remembered.
4. For each concurrency in ``--levels``, that many reader threads (closed loop, keep-alive)
   request for ``--seconds``: a product page (HTML), the batch's public JSON, an inclusion
   proof of a random entry at the checkpoint's size, a random entry's raw bytes, and the
   checkpoint, in the proportions of ``MIX``.  Throughput, p50/p95/p99 and errors per level.
5. The baseline, in the same run and at the concurrency of the fastest level whose p95 stayed
   under 50 ms: a static file through the same gunicorn and Flask (no database).
6. Every acknowledged scan is looked up in the ledger: a lost or doubled write is reported.

Everything stays on 127.0.0.1 and stops at the end.  The readers run on the same two cores as
the server, so the rates are a floor for the server alone.  Nothing here asserts on timings.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's directory comes first on sys.path, where bench/ledger.py would
# shadow the ledger package: put the project root ahead of it.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.engine import make_url

from api.assets import content_version
from bench.ledger import event_batches
from ledger import demo, demo_equipment, keys, migrate
from ledger.db import store
from ledger.db.engine import make_engine, transaction
from ledger.db.tables import Batch, Holding, LedgerEntry, Site
from ledger.services import checkpoints, orgs

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "anlian.bench/load"
PUBLIC_URL = "https://anlian.example"
GOAL_P95_MS = 50.0
# What a visitor's phone asks for: the page, then the badge's checkpoint, entries and proofs.
REFUSALS: list[str] = []  # the first few refused requests, printed at the end to say why
MIX = {"page": 30, "public_json": 10, "proof": 30, "entry_raw": 20, "checkpoint": 10}


# --- the database -------------------------------------------------------------------------------


def database_url(admin_url: str, entries: int) -> str:
    return make_url(admin_url).set(database=f"anlian_bench_load_{entries}").render_as_string(hide_password=False)


def _admin(admin_url: str) -> Engine:
    return create_engine(admin_url, isolation_level="AUTOCOMMIT")


def _exists(admin_url: str, url: str) -> bool:
    with _admin(admin_url).connect() as conn:
        name = make_url(url).database
        return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None


def _create(admin_url: str, url: str) -> None:
    with _admin(admin_url).connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))


def drop(admin_url: str, url: str) -> None:
    with _admin(admin_url).connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


def build(url: str, entries: int, batches: int, key_path: Path, seed: int) -> dict[str, float]:
    """The demo world through the services, then filler up to ``entries``; seconds per step."""
    engine = make_engine(url)
    times: dict[str, float] = {}
    started = time.perf_counter()
    migrate.upgrade(engine)
    demo.run(engine, PUBLIC_URL, batches, seed, now=datetime.now(UTC) - timedelta(days=2))
    demo_equipment.run(engine, 300, seed)
    times["demo"] = time.perf_counter() - started
    with transaction(engine, readonly=True) as session:
        size = store.tree_size(session)
    started = time.perf_counter()
    rng = random.Random(seed)  # noqa: S311 (bench data, repeatable by seed)
    for done, events in enumerate(event_batches(rng, max(0, entries - size), 1000)):
        with transaction(engine) as session:
            store.append(session, events)
        if done % 50 == 0:
            print(f"  filler: {size + done * 1000 + len(events):,} entries", file=sys.stderr, flush=True)
    times["filler"] = time.perf_counter() - started
    sign(engine, key_path)
    engine.dispose()
    with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would have by the time of any load
    return times


def sign(engine: Engine, key_path: Path) -> int:
    signer = keys.load_signer(key_path, ORIGIN)
    with transaction(engine) as session:
        checkpoints.sign_current(session, signer, ORIGIN)
        return store.tree_size(session)


@dataclass(frozen=True)
class World:
    size: int
    batches: list[tuple[str, str]]  # (gtin, lot) of real batches
    writers: list[dict[str, Any]]  # api_key, gtin, lot, site_id of a holder with stock


def world(url: str, writers: int) -> World:
    engine = make_engine(url)
    with transaction(engine) as session:
        size = store.tree_size(session)
        batches = [(row.gtin, row.lot) for row in session.execute(select(Batch.gtin, Batch.lot))]
        holders = session.execute(
            select(Holding.org_id, Holding.gtin, Holding.lot, Holding.unit, func.min(Site.id))
            .join(Site, Site.org_id == Holding.org_id)
            .where(Holding.quantity > 0)
            .group_by(Holding.org_id, Holding.gtin, Holding.lot, Holding.unit)
            .order_by(Holding.org_id, Holding.gtin, Holding.lot)
        ).all()
        chosen: dict[str, Any] = {}
        for org_id, gtin, lot, unit, site_id in holders:  # one holding per organisation, as many as writers
            if org_id not in chosen and len(chosen) < writers:
                chosen[org_id] = {"gtin": gtin, "lot": lot, "unit": unit, "site_id": site_id}
        for org_id, holding in chosen.items():
            holding["api_key"] = orgs.issue_key(session, org_id, {"org": "bench"}).api_key
            holding["org_id"] = org_id
    engine.dispose()
    if len(chosen) < writers:
        raise SystemExit(f"only {len(chosen)} organisations hold stock: run with fewer --writers")
    return World(size, batches, list(chosen.values()))


# --- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(url: str, key_path: Path, port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": url,
        "LEDGER_SIGNING_KEY_PATH": str(key_path),
        "LEDGER_ORIGIN": ORIGIN,
        "LEDGER_PUBLIC_URL": PUBLIC_URL,
        "LEDGER_RATELIMIT_PUBLIC": "100000000/minute",  # every reader here is 127.0.0.1
    }
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        f"--threads={threads}",
        "--worker-class=gthread",
        "--log-level=warning",
        "api:create_app()",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 (our own gunicorn)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not start")


# --- the clients --------------------------------------------------------------------------------


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    statuses: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # "kind status": count

    def add(self, kind: str, seconds: float, ok: bool, status: int) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            if not ok:
                self.errors[kind] += 1
                self.statuses[f"{kind} {status or 'no answer'}"] += 1


def request(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, key: str = "") -> int:
    headers = {"Accept": "text/html" if method == "GET" and "/api/" not in path else "application/json"}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers.update({"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    conn.request(method, path, body=payload, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    if response.status >= 400 and len(REFUSALS) < 5:
        REFUSALS.append(f"{method} {path} {response.status}: {answer[:300].decode(errors='replace')}")
    return response.status


def reader_paths(world: World, rng: random.Random) -> Callable[[], tuple[str, str]]:
    kinds = [kind for kind, weight in MIX.items() for _ in range(weight)]

    def next_path() -> tuple[str, str]:
        kind = rng.choice(kinds)
        gtin, lot = rng.choice(world.batches)
        seq = rng.randrange(world.size)
        paths = {
            "page": f"/01/{gtin}/10/{quote(lot, safe='')}",
            "public_json": f"/api/v1/public/batches/{gtin}/{quote(lot, safe='')}",
            "proof": f"/api/v1/ledger/proof/inclusion?seq={seq}&tree_size={world.size}",
            "entry_raw": f"/api/v1/ledger/entries/{seq}/raw",
            "checkpoint": "/api/v1/ledger/checkpoint",
        }
        return kind, paths[kind]

    return next_path


def read_for(port: int, seconds: float, next_path: Callable[[], tuple[str, str]], tally: Tally) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        kind, path = next_path()
        started = time.perf_counter()
        try:
            status = request(conn, "GET", path)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        tally.add(kind, time.perf_counter() - started, status == 200, status)
    conn.close()


@dataclass
class Writes:
    acknowledged: list[str] = field(default_factory=list)  # client_event_ids answered 201/200
    tally: Tally = field(default_factory=Tally)


def write_until(port: int, holder: dict[str, Any], rate: float, stop: threading.Event, writes: Writes) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    interval, next_at = 1.0 / rate, time.monotonic()
    while not stop.is_set():
        event_id = str(uuid.uuid4())
        scan = {
            "client_event_id": event_id,
            "action": "store",
            "gtin": holder["gtin"],
            "lot": holder["lot"],
            "quantity": 1,
            "unit": holder["unit"],
            "site_id": holder["site_id"],
            "event_time": datetime.now(UTC).isoformat(),
            "temperature_c": -18.5,
        }
        started = time.perf_counter()
        try:
            status = request(conn, "POST", "/api/v1/scans", scan, holder["api_key"])
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        ok = status in (200, 201)
        writes.tally.add("scan", time.perf_counter() - started, ok, status)
        if ok:
            with writes.tally.lock:
                writes.acknowledged.append(event_id)
        next_at = max(next_at + interval, time.monotonic())
        stop.wait(max(0.0, next_at - time.monotonic()))
    conn.close()


def percentiles(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0}
    cuts = statistics.quantiles(seconds, n=100, method="inclusive") if len(seconds) > 1 else [seconds[0]] * 99
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


def run_level(port: int, world: World, readers: int, seconds: float, seed: int) -> dict[str, Any]:
    tally = Tally()
    threads = [
        threading.Thread(
            target=read_for,
            args=(port, seconds, reader_paths(world, random.Random(seed + i)), tally),  # noqa: S311
        )
        for i in range(readers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [s for values in tally.latencies.values() for s in values]
    return {
        "readers": readers,
        "requests": len(everything),
        "rate": len(everything) / seconds,
        "errors": sum(tally.errors.values()),
        "error_statuses": dict(tally.statuses),
        **percentiles(everything),
        "by_kind": {kind: {"n": len(v), **percentiles(v)} for kind, v in sorted(tally.latencies.items())},
    }


def run_baseline(port: int, readers: int, seconds: float, path: str) -> dict[str, Any]:
    tally = Tally()
    threads = [
        threading.Thread(target=read_for, args=(port, seconds, lambda: ("static", path), tally)) for _ in range(readers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds_list = tally.latencies["static"]
    return {"requests": len(seconds_list), "rate": len(seconds_list) / seconds, "errors": sum(tally.errors.values()),
            **percentiles(seconds_list)}  # fmt: skip


def check_writes(url: str, writes: Writes) -> dict[str, int]:
    """Every acknowledged scan once in the ledger: lost and doubled ones counted."""
    engine = make_engine(url)
    with transaction(engine, readonly=True) as session:
        found = defaultdict(int)
        for start in range(0, len(writes.acknowledged), 5000):
            chunk = writes.acknowledged[start : start + 5000]
            rows = session.execute(
                select(LedgerEntry.client_event_id, func.count()).where(LedgerEntry.client_event_id.in_(chunk))
                .group_by(LedgerEntry.client_event_id)
            )  # fmt: skip
            found.update({event_id: count for event_id, count in rows})
    engine.dispose()
    return {
        "acknowledged": len(writes.acknowledged),
        "lost": sum(1 for event_id in writes.acknowledged if found.get(event_id, 0) == 0),
        "doubled": sum(1 for count in found.values() if count > 1),
    }


def storage(url: str) -> dict[str, int]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 2 DESC LIMIT 8"
            )
        ).all()
        total = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return {"database": int(total), **{name: int(size) for name, size in rows}}


# --- the run ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=1000, help="demo batches written through the services")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--levels", default="1,2,4,8,16", help="reader concurrencies, one level after another")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each level")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--writer-rate", type=float, default=5.0, help="scans per second per writer")
    parser.add_argument("--keep", action="store_true", help="keep the database, and reuse it if it exists")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "bench/out")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    url = database_url(args.pg_url, args.entries)
    key_path = args.out_dir / f"load-key-{args.entries}.pem"
    built: dict[str, float] = {}
    if not (args.keep and _exists(args.pg_url, url) and key_path.exists()):
        _create(args.pg_url, url)
        key_path.unlink(missing_ok=True)
        keys.create_signing_key(key_path)
        print(f"building {url} with {args.entries:,} entries", file=sys.stderr)
        built = build(url, args.entries, args.batches, key_path, args.seed)
    found = world(url, args.writers)
    print(f"ledger: {found.size:,} entries, {len(found.batches):,} batches; built in {built or 'an earlier run'}")
    port = free_port()
    server = start_server(url, key_path, port, args.workers, args.threads)
    stop, writes = threading.Event(), Writes()
    writers = [
        threading.Thread(target=write_until, args=(port, holder, args.writer_rate, stop, writes))
        for holder in found.writers
    ]
    results: list[dict[str, Any]] = []
    try:
        for thread in writers:
            thread.start()
        # Untimed: every worker imports the app, connects and compiles its templates on first use.
        run_level(port, found, args.workers * args.threads, 5.0, args.seed - 1)
        for readers in (int(level) for level in args.levels.split(",")):
            level = run_level(port, found, readers, args.seconds, args.seed)
            results.append(level)
            print(
                f"readers {readers:3d}: {level['rate']:8.1f} req/s  p50 {level['p50']:6.1f} ms"
                f"  p95 {level['p95']:6.1f} ms  p99 {level['p99']:6.1f} ms  errors {level['errors']}",
                flush=True,
            )
        within = [level for level in results if level["p95"] < GOAL_P95_MS and level["errors"] == 0]
        best = max(within, key=lambda level: level["rate"]) if within else min(results, key=lambda level: level["p95"])
        static = f"/static/css/app.css?v={content_version(str(ROOT / 'static'), 'css/app.css')}"
        baseline = run_baseline(port, best["readers"], args.seconds, static)
    finally:
        stop.set()
        for thread in writers:
            thread.join()
        server.terminate()
        server.wait(timeout=30)
    written = check_writes(url, writes)
    sizes = storage(url)
    scans = writes.tally.latencies["scan"]
    report = {
        "entries": found.size,
        "levels": results,
        "best": best,
        "baseline_static": baseline,
        "ratio_best_to_static": best["rate"] / baseline["rate"] if baseline["rate"] else None,
        "writes": {
            **written,
            "errors": writes.tally.errors["scan"],
            "error_statuses": dict(writes.tally.statuses),
            **percentiles(scans),
        },  # fmt: skip
        "storage_bytes": sizes,
        "machine": {"cpus": os.cpu_count(), "load_avg": os.getloadavg()},
        "args": {key: str(value) for key, value in vars(args).items()},
    }
    print_report(report)
    if not args.keep:
        drop(args.pg_url, url)


def print_report(report: dict[str, Any]) -> None:
    best, baseline, writes = report["best"], report["baseline_static"], report["writes"]
    print(f"\nbest level within p95 < {GOAL_P95_MS:g} ms: {best['readers']} readers, {best['rate']:.1f} req/s")
    for kind, numbers in best["by_kind"].items():
        p50, p95, p99 = numbers["p50"], numbers["p95"], numbers["p99"]
        print(f"  {kind:12s} n={numbers['n']:6d}  p50 {p50:6.1f}  p95 {p95:6.1f}  p99 {p99:6.1f} ms")
    print(f"baseline static file, same readers: {baseline['rate']:.1f} req/s, p95 {baseline['p95']:.1f} ms")
    print(f"RATIO best/static: {report['ratio_best_to_static']:.3f}")
    print(
        f"writes: {writes['acknowledged']} acknowledged, {writes['lost']} lost, {writes['doubled']} doubled, "
        f"{writes['errors']} errors {writes['error_statuses']}; p50 {writes['p50']:.1f} p95 {writes['p95']:.1f}"
        f" p99 {writes['p99']:.1f} ms"
    )
    print(f"storage: {json.dumps(report['storage_bytes'])}")
    for refusal in REFUSALS:
        print(f"refused: {refusal}")
    print("JSON " + json.dumps(report, default=str))


if __name__ == "__main__":
    main()
