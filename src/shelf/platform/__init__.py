"""Cross-cutting building blocks: database, ids, clock, errors."""
