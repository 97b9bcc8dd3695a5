"""The catalog service: products, their validation, storage, search and REST API."""
