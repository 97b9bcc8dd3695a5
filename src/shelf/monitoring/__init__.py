"""Monitoring: logs, health, and (later) metrics and traces."""
