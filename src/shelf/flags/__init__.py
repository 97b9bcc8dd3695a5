"""Feature flags: definitions (REST, console), the evaluation engine, OFREP and exposures (ADR 0014)."""
