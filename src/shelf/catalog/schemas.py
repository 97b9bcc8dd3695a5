"""API shapes of the catalog: what clients send and what they get back."""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    field_validator,
    model_validator,
)

from shelf.catalog.currencies import MINOR_UNITS
from shelf.catalog.models import ProductStatus
from shelf.catalog.money import check_currency_precision, format_amount, parse_amount

SKU_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY_LENGTH = 64
MAX_ATTRIBUTE_VALUE_LENGTH = 500
READ_ONLY_FIELDS = frozenset({"id", "created_at", "updated_at", "version"})


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)


def _clean_line(text: str) -> str:
    """Trim, normalise to NFC, and refuse control characters (tabs and newlines included)."""
    cleaned = unicodedata.normalize("NFC", text.strip())
    if _has_control_characters(cleaned):
        raise ValueError("must not contain control characters")
    return cleaned


def _clean_text(text: str) -> str:
    """Long text keeps line breaks and tabs but no other control characters."""
    cleaned = unicodedata.normalize("NFC", text)
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in cleaned):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return cleaned


def _sku(sku: str) -> str:
    if not re.fullmatch(SKU_PATTERN, sku):
        raise ValueError("a SKU is 1 to 64 letters, digits, '.', '_' or '-'")
    return sku


def _slug(slug: str) -> str:
    if len(slug) > 64 or not re.fullmatch(SLUG_PATTERN, slug):
        raise ValueError("a category is a slug: lowercase letters and digits joined by '-'")
    return slug


def _length(low: int, high: int) -> AfterValidator:
    def check(text: str) -> str:
        if not low <= len(text) <= high:
            raise ValueError(
                f"must be {low} to {high} characters long"
                if low
                else f"must be at most {high} characters long"
            )
        return text

    return AfterValidator(check)


Name = Annotated[str, AfterValidator(_clean_line), _length(1, 200)]
Description = Annotated[str, AfterValidator(_clean_text), _length(0, 10_000)]
Sku = Annotated[str, AfterValidator(_sku)]
Slug = Annotated[str, AfterValidator(_slug)]
Tag = Annotated[str, AfterValidator(_clean_line), _length(1, MAX_TAG_LENGTH)]
Amount = Annotated[
    Decimal,
    BeforeValidator(parse_amount),
    PlainSerializer(str, return_type=str),
]


def _attribute_value(value: Any) -> bool | int | Decimal | str:
    if isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("attribute numbers must be finite")
        return value
    if isinstance(value, str):
        if len(value) > MAX_ATTRIBUTE_VALUE_LENGTH:
            raise ValueError(f"attribute text must be at most {MAX_ATTRIBUTE_VALUE_LENGTH} characters")
        return _clean_text(value)
    raise ValueError("attribute values must be a string, a number or a boolean")


AttributeValue = Annotated[bool | int | Decimal | str, BeforeValidator(_attribute_value)]


class Price(BaseModel):
    """``{"amount": "249.00", "currency": "EUR"}``: an exact decimal in an ISO 4217 currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: Amount
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, currency: str) -> str:
        if currency not in MINOR_UNITS:
            raise ValueError(f"{currency} is not an active ISO 4217 currency code")
        return currency

    @model_validator(mode="after")
    def _precision_fits_currency(self) -> Price:
        check_currency_precision(self.amount, self.currency)
        return self


class PriceRead(BaseModel):
    amount: str
    currency: str


class ProductWrite(BaseModel):
    """The fields a client may set. Read-only fields in a request are ignored, never honoured."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    name: Name
    description: Description = ""
    price: Price
    status: ProductStatus = ProductStatus.DRAFT
    category: Slug | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    attributes: dict[str, AttributeValue] = Field(default_factory=dict, max_length=MAX_ATTRIBUTES)
    stock: int = Field(default=0, ge=0, le=2_000_000_000)

    @model_validator(mode="before")
    @classmethod
    def _drop_read_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in READ_ONLY_FIELDS}
        return data

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, tags: list[str]) -> list[str]:
        return list(dict.fromkeys(tags))

    @field_validator("attributes")
    @classmethod
    def _attribute_keys(cls, attributes: dict[str, Any]) -> dict[str, Any]:
        for key in attributes:
            if not re.fullmatch(rf"[A-Za-z0-9_.-]{{1,{MAX_ATTRIBUTE_KEY_LENGTH}}}", key):
                raise ValueError(
                    f"attribute names are 1-{MAX_ATTRIBUTE_KEY_LENGTH} letters, digits, '.', '_' or '-'"
                )
        return attributes


class ProductCreate(ProductWrite):
    pass


class ProductRead(BaseModel):
    id: uuid.UUID
    sku: str
    name: str
    description: str
    price: PriceRead
    status: ProductStatus
    category: str | None
    tags: list[str]
    attributes: dict[str, bool | int | Decimal | str]
    stock: int
    created_at: datetime
    updated_at: datetime
    version: int

    @classmethod
    def from_product(cls, product: Any) -> ProductRead:
        return cls(
            id=product.id,
            sku=product.sku,
            name=product.name,
            description=product.description,
            price=PriceRead(
                amount=format_amount(product.price_amount, product.price_currency),
                currency=product.price_currency,
            ),
            status=ProductStatus(product.status),
            category=product.category,
            tags=list(product.tags),
            attributes=dict(product.attributes),
            stock=product.stock,
            created_at=product.created_at,
            updated_at=product.updated_at,
            version=product.version,
        )


class ProductPage(BaseModel):
    items: list[ProductRead]
    next_cursor: str | None
