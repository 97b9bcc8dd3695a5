"""Shelf: a self-hosted product catalog platform."""

__version__ = "0.1.0"
