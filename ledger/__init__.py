"""Anlian ledger core: the tamper-evident log and the domains built on it.

Nothing in this package imports Flask or APScheduler; the web app (``api``) and the
job runner (``jobs``) depend on it, never the other way round.
"""
