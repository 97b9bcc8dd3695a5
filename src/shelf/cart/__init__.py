"""The storefront's cart: lines of product ids and quantities, priced from the catalog on every read."""
