"""Product analytics: PostHog-compatible event capture, a durable buffer, storage and queries."""
