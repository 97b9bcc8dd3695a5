"""The gateway: plain ASGI middleware and HTTP plumbing every request passes through."""
