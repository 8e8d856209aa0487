"""Reference data shipped with the ledger (checklists of the standards it records against)."""
