"""How values read on a page: money with its currency, product slugs, stock states."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from shelf.catalog.currencies import MINOR_UNITS

# Currencies whose symbol is unambiguous to an English-reading shopper; others show their code.
SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}
LOW_STOCK = 5


def format_money(amount: Decimal | str, currency: str) -> str:
    """``€1,249.00``, ``$5.00``, ``1,500 ISK``: exactly the currency's decimals, grouped thousands."""
    value = Decimal(amount)
    places = MINOR_UNITS.get(currency, 2)
    text = f"{value.quantize(Decimal(1).scaleb(-places)):,}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{text}\N{NO-BREAK SPACE}{currency}"


def slugify(text: str, max_length: int = 80) -> str:
    """``"Glacier Merino Scarf, Blue"`` → ``"glacier-merino-scarf-blue"``; ``"product"`` if nothing's left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "product"


def stock_state(stock: int) -> tuple[str, str]:
    """``(kind, words)``: the kind names a CSS modifier, the words are what a shopper reads."""
    if stock <= 0:
        return "out", "Out of stock"
    if stock <= LOW_STOCK:
        return "low", f"Only {stock} left"
    return "in", "In stock"


def category_label(slug: str) -> str:
    """``home-kitchen`` → ``Home & kitchen``-like plain words: ``Home kitchen``."""
    words = slug.replace("-", " ").strip()
    return words[:1].upper() + words[1:]
