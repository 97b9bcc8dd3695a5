"""Whether this visitor may be measured, and what the tracker script needs to know (ADR 0017).

Measured means: no Do-Not-Track (``DNT: 1``) and no Global Privacy Control (``Sec-GPC: 1``), and
consent. With ``SHELF_ANALYTICS_CONSENT=implied`` (the default) consent is assumed unless the
visitor declined; with ``required`` nothing is measured until the visitor accepts in the banner
(``templates/storefront/consent_banner.html``). The choice is remembered in the ``shelf_consent``
cookie for ``CONSENT_MAX_AGE_SECONDS``; the server reads it, so the page, the tracker's endpoint
and the identify-on-login all decide alike, and the banner works without JavaScript.

The tracker's settings travel as data attributes of its ``<script>`` tag (``tracker_script``):
the endpoint, the page's form token, the consent state and the visitor's distinct id, which is the
server's (``Shopper.distinct_id``): server-side events (feedback, flag exposures, ``$identify``)
and the tracker's share one id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastapi import Request
from starlette.responses import Response

from shelf.web.pages import Pages
from shelf.web.shopper import COOKIE

CONSENT_COOKIE = "shelf_consent"
CONSENT_MAX_AGE_SECONDS = 180 * 24 * 3600
GRANTED, DENIED = "granted", "denied"
EVENTS_PATH = "/storefront/events"
CONSENT_PATH = "/storefront/consent"
ConsentMode = Literal["implied", "required"]


def do_not_track(request: Request) -> bool:
    return request.headers.get("dnt") == "1" or request.headers.get("sec-gpc") == "1"


@dataclass(frozen=True, slots=True)
class TrackerState:
    consent: str  # "granted", "denied" or "pending" (asked, not answered)
    dnt: bool
    banner: bool  # show the consent banner

    @property
    def measured(self) -> bool:
        return self.consent == GRANTED and not self.dnt


class Tracking:
    def __init__(self, pages: Pages, mode: ConsentMode) -> None:
        self.pages = pages
        self.mode = mode

    def state(self, request: Request) -> TrackerState:
        choice = request.cookies.get(CONSENT_COOKIE)
        dnt = do_not_track(request)
        if choice == DENIED:
            consent = DENIED
        elif choice == GRANTED or self.mode == "implied":
            consent = GRANTED
        else:
            consent = "pending"
        return TrackerState(consent=consent, dnt=dnt, banner=consent == "pending" and not dnt)

    def script_attributes(self, request: Request) -> dict[str, str]:
        """The ``data-*`` attributes of the tracker's script tag on this page."""
        state = self.state(request)
        return {
            "data-shelf-tracker": "",
            "data-endpoint": EVENTS_PATH,
            "data-token": self.pages.form_token(request),
            "data-distinct-id": self.pages.shopper(request).distinct_id,
            "data-consent": state.consent,
            "data-dnt": "1" if state.dnt else "0",
        }

    def remember_choice(self, response: Response, choice: str) -> None:
        response.set_cookie(
            CONSENT_COOKIE,
            choice,
            max_age=CONSENT_MAX_AGE_SECONDS,
            httponly=True,
            samesite="lax",
            secure=self.pages.secure_cookies,
            path="/",
        )

    def anonymous_id(self, request: Request) -> str | None:
        """The measured visitor's anonymous id from the shopper cookie it already has, else None."""
        if not self.state(request).measured:
            return None
        shopper = self.pages.cookies.decode(request.cookies.get(COOKIE))
        return shopper.distinct_id if shopper is not None else None

    async def identify(self, request: Request, user_id: object) -> None:
        """After a login: link this browser's anonymous id to ``user:<id>`` (``$identify``)."""
        anon = self.anonymous_id(request)
        if anon is not None:
            await request.app.state.container.analytics.identify(f"user:{user_id}", anon)


def current_tracking(request: Request) -> Tracking:
    tracking: Tracking = request.app.state.tracking
    return tracking
