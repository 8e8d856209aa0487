"""Writer processes for the crash and backup tests, driven through stdin and stdout.

``batch URL ORG COUNT``: builds COUNT scans of ORG, prints ``ready``, waits for a line on stdin,
then appends them as one list in one transaction (the store's one append path) and prints the
seconds from that line to the commit.  The parent kills it at a moment of its choosing.

``trickle URL ORG``: appends one scan per transaction, a few milliseconds apart, until stdin
is closed.
"""

from __future__ import annotations

import sys
import threading
from time import perf_counter

from ledger.db import store
from ledger.db.engine import make_engine, transaction
from tests.factories import scan


def batch(url: str, org: str, count: int) -> None:
    engine = make_engine(url)
    events = [scan(n, org=org) for n in range(count)]
    with engine.connect():
        pass  # connect (and for SQLite set the pragmas) before the clock starts
    print("ready", flush=True)
    sys.stdin.readline()
    started = perf_counter()
    with transaction(engine) as session:
        store.append(session, events)
    print(f"{perf_counter() - started:.6f}", flush=True)


def trickle(url: str, org: str) -> None:
    engine = make_engine(url)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    n = 0
    while not stop.is_set():
        with transaction(engine) as session:
            store.append(session, [scan(n, org=org)])
        n += 1
        stop.wait(0.005)  # a busy writer, not one that starves everyone else of the CPU


if __name__ == "__main__":
    if sys.argv[1] == "batch":
        batch(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        trickle(sys.argv[2], sys.argv[3])
