"""Identity: users, API keys, principals and the permission table."""
