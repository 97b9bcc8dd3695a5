"""Pages served to people: the API reference now; the storefront and admin console later."""
