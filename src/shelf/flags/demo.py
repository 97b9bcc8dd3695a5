"""The flag Shelf dogfoods: the storefront's product page layout, an A/B test on add-to-cart.

``shelf seed`` creates it when missing (never changes an existing one: an editor may have tuned it).
The storefront evaluates it for the shopper's ``distinct_id`` (web/storefront/views.py), so the
exposures (``$feature_flag_called``) and the ``add_to_cart`` events share one id.
"""

from __future__ import annotations

from typing import Any

from shelf.flags.errors import FlagNotFound
from shelf.flags.service import FlagsService
from shelf.identity.permissions import Principal

PRODUCT_PAGE_LAYOUT = "storefront.product-page-layout"
CONTROL, GALLERY = "control", "gallery"

DEMO_FLAGS: tuple[dict[str, Any], ...] = (
    {
        "key": PRODUCT_PAGE_LAYOUT,
        "description": (
            "Storefront product page: 'gallery' puts a large product visual and the buy box above "
            "the description; 'control' is the classic page."
        ),
        "type": "multivariate",
        "enabled": True,
        "rollout": 100,
        "variants": [{"key": CONTROL, "weight": 50}, {"key": GALLERY, "weight": 50}],
        "rules": [],
    },
)


async def ensure_demo_flags(flags: FlagsService, principal: Principal) -> list[str]:
    """Create each demo flag that does not exist yet; the keys created."""
    created: list[str] = []
    for definition in DEMO_FLAGS:
        try:
            await flags.get_flag(principal, definition["key"])
        except FlagNotFound:
            await flags.create_flag(principal, definition)
            created.append(definition["key"])
    return created
