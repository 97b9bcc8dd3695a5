"""Experiments on multivariate flags: definitions, results from analytics, statistics (ADR 0015)."""
