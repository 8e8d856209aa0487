"""``python -m jobs``: the scheduler process.  ``--once`` runs every job once and exits.

``python -m jobs --witness witness.toml`` runs instead as a witness of a ledger run by someone
else (see ``jobs/witness.py``): no database, only the witness job, on its own interval;
``--show-key`` creates the witness key if needed and prints the vkey to register at the ledger.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler

from jobs import checkpoint, rules, webhooks, witness
from jobs.runs import Job, run_job
from ledger import keys
from ledger.config import Settings
from ledger.db.engine import make_engine


def jobs_for(settings: Settings) -> dict[str, tuple[Job, dict[str, Any]]]:
    """Each job with its APScheduler trigger: checkpoints every minute, the cold-chain rules
    hourly, the equipment rules daily at 01:00 and risk grades at 02:00 in the region's time
    zone, webhook deliveries every 30 seconds."""
    signer = keys.load_signer(settings.signing_key_path, settings.key_name)
    zone = settings.time_zone
    return {
        "checkpoint": (checkpoint.make_job(signer, settings.origin), {"trigger": "interval", "seconds": 60}),
        "rules-coldchain": (rules.make_job("coldchain", zone), {"trigger": "interval", "hours": 1}),
        "rules-equipment": (rules.make_job("equipment", zone), {"trigger": "cron", "hour": 1, "timezone": zone}),
        "risk-grades": (rules.make_grading_job(zone), {"trigger": "cron", "hour": 2, "timezone": zone}),
        "webhooks": (webhooks.make_job(), {"trigger": "interval", "seconds": 30}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m jobs", description="Anlian scheduled jobs")
    parser.add_argument("--once", action="store_true", help="run the jobs once, print the outcomes, and exit")
    parser.add_argument("job", nargs="*", help="with --once: only these jobs (default: all)")
    parser.add_argument(
        "--witness",
        metavar="CONFIG",
        type=Path,
        help="run as a witness of another organisation's ledger, configured by this TOML file",
    )
    parser.add_argument(
        "--show-key", action="store_true", help="with --witness: create the witness key if absent, print its vkey"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.witness is not None:
        if args.job:
            parser.error("job names do not apply with --witness: a witness runs only the witness job")
        run_witness(parser, args.witness, once=args.once, show_key=args.show_key)
        return
    if args.show_key:
        parser.error("--show-key needs --witness CONFIG")
    settings = Settings.from_env()
    engine = make_engine(settings.database_url)
    runner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    jobs = jobs_for(settings)
    unknown = sorted(set(args.job) - set(jobs))
    if unknown:
        parser.error(f"unknown job(s) {', '.join(unknown)}; the jobs are {', '.join(jobs)}")
    if args.once:
        failed = False
        for name, (job, _) in jobs.items():
            if args.job and name not in args.job:
                continue
            run = run_job(engine, name, job, runner)
            failed = failed or run.outcome == "error"
            print(f"{name}: {run.outcome} ({run.detail})")
        raise SystemExit(1 if failed else 0)
    scheduler = BlockingScheduler(timezone="UTC")
    for name, (job, trigger) in jobs.items():
        scheduler.add_job(
            run_job,
            args=(engine, name, job, runner),
            id=name,
            coalesce=True,
            max_instances=1,
            # Interval jobs start at once; a daily job waits for its hour (--once runs it now).
            **({"next_run_time": datetime.now(UTC)} if trigger["trigger"] == "interval" else {}),
            **trigger,
        )
    logging.getLogger(__name__).info("job runner %s started with %s", runner, ", ".join(jobs))
    scheduler.start()


def run_witness(parser: argparse.ArgumentParser, path: Path, once: bool, show_key: bool) -> None:
    try:
        config = witness.load_config(path)
        if show_key:
            print(witness.load_cosigner(config, create=True).vkey)
            return
        job = witness.make_job(config)
    except witness.ConfigError as exc:
        parser.error(str(exc))
    if once:
        outcome = job()
        print(f"witness: {outcome.kind} ({outcome.detail})")
        raise SystemExit(0 if outcome.ok else 1)
    scheduler = BlockingScheduler(timezone="UTC")
    # One run at a time, and a run missed while the last one was slow is not made up twice.
    scheduler.add_job(
        job,
        "interval",
        seconds=config.interval_seconds,
        id="witness",
        coalesce=True,
        max_instances=1,
        next_run_time=datetime.now(UTC),
    )
    logging.getLogger(__name__).info("witness %s watching %s", config.name, config.ledger_url)
    scheduler.start()


if __name__ == "__main__":
    main()
