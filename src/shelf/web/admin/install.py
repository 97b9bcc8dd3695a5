"""Wiring of the console, called once by ``web.install.install_web``."""

from __future__ import annotations

from fastapi import FastAPI

from shelf.web.admin import (
    analytics,
    apikeys,
    audit,
    auth,
    dashboard,
    experiments,
    feedback,
    flags,
    imports,
    product_editor,
    products,
    system,
    users,
)
from shelf.web.admin.guard import LoginRequired, login_redirect
from shelf.web.admin.nav import visible_nav
from shelf.web.admin.rendering import sentence, when
from shelf.web.pages import Pages

# Every router of the console; a new area adds its module's router here.
ROUTERS = (
    auth.router,
    dashboard.router,
    products.router,
    product_editor.router,
    users.router,
    apikeys.router,
    audit.router,
    analytics.router,
    feedback.router,
    imports.router,
    flags.router,
    experiments.router,
    system.router,
)


def install_admin(app: FastAPI, pages: Pages) -> None:
    pages.env.globals["admin_nav"] = visible_nav
    pages.env.filters["sentence"] = sentence
    pages.env.filters["when"] = when
    pages.error_templates["/admin"] = "admin/error.html"
    app.add_exception_handler(LoginRequired, login_redirect)
    for router in ROUTERS:
        app.include_router(router)
