"""Wiring of the pages, called once by the composition root (``app.create_app``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from shelf.web.admin.install import install_admin
from shelf.web.assets import StaticAssets
from shelf.web.errors import install_page_errors
from shelf.web.pages import Pages
from shelf.web.shopper import ShopperCookies
from shelf.web.storefront import cart as cart_views
from shelf.web.storefront import events as tracker_views
from shelf.web.storefront import feedback as feedback_views
from shelf.web.storefront import views as storefront_views
from shelf.web.storefront.shop import Shop
from shelf.web.storefront.tracking import CONSENT_PATH, Tracking

if TYPE_CHECKING:  # app.py imports this module; importing it back at run time would be a cycle
    from shelf.app import Container


def install_web(app: FastAPI, container: Container) -> None:
    """Templates, static files, HTML error pages, the storefront's and the console's routes.

    Call it after ``install_problem_handlers``: the page errors wrap the handlers installed by then.
    """
    settings = container.settings
    assets = StaticAssets()
    pages = app.state.pages = Pages(
        assets,
        ShopperCookies(settings.secret_key.get_secret_value()),
        secure_cookies=settings.env == "production",
        auto_reload=settings.env == "development",
    )
    app.state.shop = Shop(container.catalog, container.categories)
    app.mount(assets.prefix, assets.files(), name="static")
    app.include_router(storefront_views.router)
    app.include_router(cart_views.router)
    app.include_router(feedback_views.router)
    tracking = app.state.tracking = Tracking(pages, settings.analytics_consent)
    pages.env.globals["tracker_attributes"] = tracking.script_attributes
    pages.env.globals["tracker_state"] = tracking.state
    pages.env.globals["consent_path"] = CONSENT_PATH
    app.include_router(tracker_views.router)
    app.include_router(tracker_views.pages_router)
    install_admin(app, pages)
    install_page_errors(app)
