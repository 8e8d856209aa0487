"""Persistence: SQLAlchemy 2 models, engines, transactions and the one append path."""
