"""The shopper cookie: what it carries, that it is signed, and the storefront's CSRF tokens."""

from __future__ import annotations

import uuid

import pytest

from shelf.cart.schemas import MAX_LINES, MAX_QUANTITY, CartLine
from shelf.web.shopper import Shopper, ShopperCookies

COOKIES = ShopperCookies("a test secret that is long enough to be realistic")


def test_a_cart_survives_the_round_trip() -> None:
    lines = tuple(CartLine(uuid.uuid4(), quantity) for quantity in (1, 2, MAX_QUANTITY))
    shopper = Shopper.new().with_lines(lines)
    assert COOKIES.decode(COOKIES.encode(shopper)) == shopper
    assert Shopper.new().id != Shopper.new().id


def test_a_full_cart_fits_in_a_cookie() -> None:
    lines = tuple(CartLine(uuid.uuid4(), MAX_QUANTITY) for _ in range(MAX_LINES))
    raw = COOKIES.encode(Shopper.new().with_lines(lines))
    assert len(raw) < 1500  # browsers keep at least 4096 bytes per cookie
    assert COOKIES.decode(raw) is not None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda raw: raw[:-1] + ("A" if raw[-1] != "A" else "B"),  # another signature
        lambda raw: "B" + raw[1:],  # another body
        lambda raw: raw.split(".")[0],  # no signature
        lambda raw: raw + ".x",
        lambda raw: "",
        lambda raw: "%%%.###",
    ],
)
def test_a_tampered_cookie_counts_as_none(tamper: object) -> None:
    raw = COOKIES.encode(Shopper.new().with_lines((CartLine(uuid.uuid4(), 2),)))
    assert callable(tamper)
    assert COOKIES.decode(tamper(raw)) is None


def test_a_cookie_signed_with_another_secret_counts_as_none() -> None:
    other = ShopperCookies("another secret, of another installation of Shelf")
    assert COOKIES.decode(other.encode(Shopper.new())) is None


def test_csrf_tokens_belong_to_one_shopper() -> None:
    shopper, stranger = Shopper.new(), Shopper.new()
    token = COOKIES.csrf_token(shopper)
    assert COOKIES.csrf_matches(shopper, token)
    assert (
        COOKIES.csrf_token(shopper.with_lines((CartLine(uuid.uuid4(), 1),))) == token
    )  # the id is what counts
    assert not COOKIES.csrf_matches(stranger, token)
    assert not COOKIES.csrf_matches(shopper, None)
    assert not COOKIES.csrf_matches(shopper, "")
    other_install = ShopperCookies("another secret, of another installation of Shelf")
    assert not COOKIES.csrf_matches(shopper, other_install.csrf_token(shopper))


def test_the_distinct_id_is_stable_per_visitor_and_survives_the_cookie_round_trip() -> None:
    shopper, stranger = Shopper.new(), Shopper.new()
    assert shopper.distinct_id.startswith("anon-")
    assert shopper.distinct_id != stranger.distinct_id
    restored = COOKIES.decode(COOKIES.encode(shopper.with_lines((CartLine(uuid.uuid4(), 2),))))
    assert restored is not None
    assert restored.distinct_id == shopper.distinct_id
