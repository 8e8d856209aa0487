"""Use cases: one function per command, each working inside the caller's transaction."""
