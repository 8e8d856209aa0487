"""The job runner: APScheduler jobs that call ``ledger`` services, one leader at a time."""
