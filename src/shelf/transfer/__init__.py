"""Bulk import and export of the catalog (ADR 0013): files in, files out, in constant memory."""
