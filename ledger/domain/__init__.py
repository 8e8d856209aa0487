"""Pure domain code: no database, no web framework, no clock reads."""
