"""The demo's experiment: the storefront's product page layout (issue 7's dogfood).

``DOGFOOD_FLAG`` is the multivariate flag the flags feature seeds (``control`` and ``gallery``,
half each). ``DEMO_FLAGS`` declares it for ``StaticFlags``, the lookup the composition root uses
until the flags service is wired in its place.
"""

from __future__ import annotations

from typing import Any

DOGFOOD_FLAG = "storefront.product-page-layout"
DOGFOOD_VARIANTS = (("control", 50.0), ("gallery", 50.0))
DEMO_FLAGS = {DOGFOOD_FLAG: DOGFOOD_VARIANTS}
DOGFOOD_EXPERIMENT: dict[str, Any] = {
    "key": "product-page-layout",
    "name": "Product page layout: gallery vs. control",
    "description": "Does the gallery layout of the product page raise the add-to-cart rate?",
    "flag_key": DOGFOOD_FLAG,
    "control_variant": "control",
    "primary_metric": {"kind": "conversion", "event": "add_to_cart", "window_seconds": 86_400},
    "secondary_metrics": [],
    "minimum_sample": 100,
}
