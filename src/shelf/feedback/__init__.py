"""Feedback from shoppers and apps: a rating, a text, an optional email, and the context it was
sent in (page, product, flag variants, anonymous id), triaged by staff in the console (ADR 0016)."""
