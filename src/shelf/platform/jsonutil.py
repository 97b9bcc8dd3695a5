"""JSON that keeps numbers exact: non-integers parse to ``Decimal`` and serialise back verbatim.

The standard encoder cannot write a ``Decimal`` as a bare number, so it is written as a marked
string and unwrapped afterwards. The marker starts with U+0000, which Shelf refuses in all text,
so it cannot collide with user data.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

_MARK = "\x00dec:"
_MARKED = re.compile(r'"\\u0000dec:([-+0-9.Ee]+)"')


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return f"{_MARK}{value}"
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    text = json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))
    return _MARKED.sub(r"\1", text) if _MARK[1:] in text else text


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder for every call: json.loads with options builds a new JSONDecoder each time, which
# costs more than decoding a product's attributes.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def loads(text: str | bytes) -> Any:
    """As ``json.loads(text, parse_float=Decimal)``, refusing NaN and Infinity."""
    if isinstance(text, bytes | bytearray):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    return _DECODER.decode(text)
