"""The storefront: what shoppers see at ``/``, ``/products`` and ``/cart``."""
