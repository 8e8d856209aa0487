"""Send the webhook deliveries that are due: first attempts and retries alike."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from jobs.runs import Job
from ledger.services import webhooks


def make_job() -> Job:
    """A run sends for at most 25 seconds (the job's lease is 5 minutes), so an interval of
    30 seconds keeps a first attempt within half a minute of the alert without overlapping."""

    def deliver_webhooks(engine: Engine) -> str:
        return webhooks.deliver_due(engine, datetime.now(UTC))

    return deliver_webhooks
