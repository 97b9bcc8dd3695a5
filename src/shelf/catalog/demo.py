"""A realistic demo catalog: names, categories, descriptions, prices, stock and tags."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from shelf.catalog.models import ProductStatus
from shelf.platform.ids import new_id


@dataclass(frozen=True)
class _Category:
    slug: str
    nouns: tuple[str, ...]
    price_range: tuple[int, int]  # whole euros
    attributes: tuple[tuple[str, tuple[str, ...]], ...]


CATEGORIES = (
    _Category(
        "apparel",
        ("T-Shirt", "Hoodie", "Jacket", "Sweater", "Shirt", "Scarf", "Beanie", "Parka"),
        (12, 240),
        (("size", ("XS", "S", "M", "L", "XL")), ("fit", ("slim", "regular", "relaxed"))),
    ),
    _Category(
        "footwear",
        ("Sneaker", "Boot", "Sandal", "Loafer", "Trail Runner", "Slipper"),
        (25, 320),
        (("size_eu", ("38", "39", "40", "41", "42", "43", "44", "45")),),
    ),
    _Category(
        "home-kitchen",
        ("Mug", "Teapot", "Chef Knife", "Cutting Board", "Skillet", "Dutch Oven", "Carafe"),
        (8, 280),
        (("capacity", ("250 ml", "500 ml", "1 l", "2 l")),),
    ),
    _Category(
        "electronics",
        ("Headphones", "Speaker", "Charger", "Keyboard", "Mouse", "Webcam", "Power Bank"),
        (15, 450),
        (("warranty_years", ("1", "2", "3")), ("wireless", ("yes", "no"))),
    ),
    _Category(
        "outdoor",
        ("Backpack", "Tent", "Sleeping Bag", "Headlamp", "Water Bottle", "Trekking Pole"),
        (10, 520),
        (("weight", ("350 g", "800 g", "1.2 kg", "2.4 kg")),),
    ),
    _Category(
        "beauty",
        ("Face Cream", "Shampoo", "Lip Balm", "Soap Bar", "Serum", "Body Oil"),
        (4, 95),
        (("volume", ("30 ml", "100 ml", "250 ml")),),
    ),
    _Category(
        "books",
        ("Notebook", "Cookbook", "Field Guide", "Sketchbook", "Planner", "Atlas"),
        (6, 70),
        (("pages", ("96", "192", "320", "480")),),
    ),
    _Category(
        "toys-games",
        ("Puzzle", "Board Game", "Building Set", "Plush Bear", "Kite", "Yo-Yo"),
        (5, 140),
        (("age", ("3+", "6+", "8+", "12+")),),
    ),
    _Category(
        "furniture",
        ("Stool", "Side Table", "Bookshelf", "Lamp", "Armchair", "Desk"),
        (35, 900),
        (("assembly", ("none", "tools included")),),
    ),
    _Category(
        "garden",
        ("Planter", "Watering Can", "Pruner", "Seed Kit", "Hose", "Bird Feeder"),
        (6, 160),
        (("indoor", ("yes", "no")),),
    ),
)
ADJECTIVES = (
    "Classic",
    "Everyday",
    "Urban",
    "Alpine",
    "Coastal",
    "Nordic",
    "Vintage",
    "Compact",
    "Heritage",
    "Modern",
    "Rugged",
    "Featherweight",
    "Cozy",
    "Studio",
    "Field",
    "Signature",
    "Essential",
    "Bold",
)
MATERIALS = (
    "Cotton",
    "Merino",
    "Linen",
    "Leather",
    "Oak",
    "Walnut",
    "Bamboo",
    "Ceramic",
    "Steel",
    "Canvas",
    "Cork",
    "Recycled",
    "Organic",
    "Wool",
    "Glass",
    "Copper",
)
COLORS = ("black", "white", "navy", "olive", "sand", "rust", "grey", "forest", "sky", "charcoal")
FEATURES = (
    "Made to last for years of daily use.",
    "Designed in small batches.",
    "Easy to clean and care for.",
    "Ships plastic-free.",
    "Backed by a two-year warranty.",
    "Loved by our customers for its comfort.",
    "Tested in the field by our team.",
)
TAG_POOL = ("new", "bestseller", "eco", "gift", "limited", "sale", "handmade", "vegan", "bundle")


def _article(word: str) -> str:
    return "An" if word[0].lower() in "aeiou" else "A"


def demo_products(count: int, *, seed: int = 42, now: datetime) -> Iterator[dict[str, object]]:
    """``count`` products as column dicts, oldest first, reproducible for a given ``seed``."""
    rng = random.Random(seed)
    step = timedelta(days=365) / max(count, 1)
    start = now - timedelta(days=365)
    for index in range(count):
        category = rng.choice(CATEGORIES)
        noun = rng.choice(category.nouns)
        adjective, material, color = (
            rng.choice(ADJECTIVES),
            rng.choice(MATERIALS),
            rng.choice(COLORS),
        )
        low, high = category.price_range
        cents = rng.randint(low * 100, high * 100)
        price = Decimal(cents - cents % 5 if cents % 100 else cents - 1) / 100
        status = rng.choices((ProductStatus.ACTIVE, ProductStatus.DRAFT, ProductStatus.ARCHIVED), (88, 8, 4))[
            0
        ]
        created = start + step * index
        attributes: dict[str, object] = {"color": color, "material": material.lower()}
        for key, values in category.attributes:
            attributes[key] = rng.choice(values)
        yield {
            "id": new_id(),
            "sku": f"{category.slug[:3].upper()}-{index + 1:07d}",
            "name": f"{adjective} {material} {noun}",
            "description": (
                f"{_article(adjective)} {adjective.lower()} {noun.lower()} in {color} {material.lower()}. "
                f"{rng.choice(FEATURES)} {rng.choice(FEATURES)}"
            ),
            "price_amount": price,
            "price_currency": "EUR",
            "status": status.value,
            "category": category.slug,
            "tags": rng.sample(TAG_POOL, rng.randint(0, 3)),
            "attributes": attributes,
            "stock": rng.choice((0, rng.randint(1, 10), rng.randint(10, 500))),
            "created_at": created,
            "updated_at": created,
            "version": 1,
        }
