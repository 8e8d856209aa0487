"""One writer process for the concurrency test: appends events one transaction at a time,
and every tenth time re-sends an event it already sent, as a client retrying would."""

from __future__ import annotations

import sys

from ledger.db import store
from ledger.db.engine import make_engine, transaction
from tests.factories import scan


def main(url: str, org: str, count: int) -> None:
    engine = make_engine(url)
    replays = 0
    for n in range(count):
        with transaction(engine) as session:
            (result,) = store.append(session, [scan(n, org=org)])
            if result.replayed:
                raise SystemExit(f"{org} event {n} was wrongly taken for a replay")
        if n % 10 == 9:
            with transaction(engine) as session:
                (again,) = store.append(session, [scan(n - 5, org=org)])
            replays += again.replayed
    print(replays)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
