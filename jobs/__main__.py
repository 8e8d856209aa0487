"""``python -m jobs``: the scheduler process.  ``--once`` runs every job once and exits."""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import socket
from datetime import UTC, datetime

from apscheduler.schedulers.blocking import BlockingScheduler

from jobs import checkpoint
from jobs.runs import Job, run_job
from ledger import keys
from ledger.config import Settings
from ledger.db.engine import make_engine


def jobs_for(settings: Settings) -> dict[str, tuple[Job, int]]:
    """Each job with its interval in seconds."""
    signer = keys.load_signer(settings.signing_key_path, settings.key_name)
    return {"checkpoint": (checkpoint.make_job(signer, settings.origin), 60)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs", description="Anlian scheduled jobs")
    parser.add_argument("--once", action="store_true", help="run every job once, print the outcome, and exit")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    runner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    jobs = jobs_for(settings)
    if args.once:
        for name, (job, _) in jobs.items():
            run = run_job(engine, name, job, runner)
            print(f"{name}: {run.outcome} ({run.detail})")
        return
    scheduler = BlockingScheduler(timezone="UTC")
    for name, (job, seconds) in jobs.items():
        scheduler.add_job(
            run_job,
            "interval",
            seconds=seconds,
            args=(engine, name, job, runner),
            id=name,
            coalesce=True,
            max_instances=1,
            next_run_time=datetime.now(UTC),
        )
    logging.getLogger(__name__).info("job runner %s started with %s", runner, ", ".join(jobs))
    scheduler.start()


if __name__ == "__main__":
    main()
