"""lz-string's ``decompressFromBase64``, which old posthog-js releases send as ``compression=lz64``.

lz-string (by pieroxy, MIT) packs UTF-16 code units into an LZW bit stream and writes it six bits a
character in base64. This is a plain reading of its algorithm with a cap on the output, so a small
body cannot expand into gigabytes.
"""

from __future__ import annotations

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_VALUE = {char: index for index, char in enumerate(_ALPHABET)}


class LzStringError(ValueError):
    """The input is not lz-string data, or it expands beyond the limit."""


def decompress_from_base64(text: str, limit: int) -> str:
    """The original string; ``limit`` caps its length in UTF-16 code units."""
    if not text:
        raise LzStringError("empty lz64 payload")
    text = text.replace(" ", "+")  # a form decoder turned '+' into ' '
    try:
        values = [_VALUE[char] for char in text]
    except KeyError as error:
        raise LzStringError(f"invalid lz64 character {error.args[0]!r}") from None
    units = _decompress(values, 32, limit)
    return "".join(units).encode("utf-16-le", "surrogatepass").decode("utf-16-le", "strict")


class _Bits:
    """Reads the stream a bit at a time, the most significant of each six-bit value first."""

    __slots__ = ("index", "position", "reset", "val", "values")

    def __init__(self, values: list[int], reset: int) -> None:
        self.values = values
        self.reset = reset
        self.val = values[0]
        self.position = reset
        self.index = 1

    def read(self, count: int) -> int:
        bits = 0
        power = 1
        maximum = 1 << count
        while power != maximum:
            bit = self.val & self.position
            self.position >>= 1
            if self.position == 0:
                self.position = self.reset
                self.val = self.values[self.index] if self.index < len(self.values) else 0
                self.index += 1
            if bit:
                bits |= power
            power <<= 1
        return bits


def _decompress(values: list[int], reset: int, limit: int) -> list[str]:
    dictionary: list[str] = ["", "", ""]
    enlarge_in = 4
    num_bits = 3
    bits = _Bits(values, reset)
    kind = bits.read(2)
    if kind == 2:
        return []
    if kind > 2:
        raise LzStringError("not an lz-string stream")
    first = chr(bits.read(8 if kind == 0 else 16))
    dictionary.append(first)
    previous = first
    result = [first]
    size = 1
    while True:
        if bits.index > len(values) + 1:
            raise LzStringError("the lz64 stream ends without its end marker")
        code = bits.read(num_bits)
        if code == 2:
            return result
        if code in (0, 1):
            dictionary.append(chr(bits.read(8 if code == 0 else 16)))
            code = len(dictionary) - 1
            enlarge_in -= 1
            if enlarge_in == 0:
                enlarge_in = 1 << num_bits
                num_bits += 1
        if code < len(dictionary):
            entry = dictionary[code]
        elif code == len(dictionary):
            entry = previous + previous[0]
        else:
            raise LzStringError("corrupt lz64 stream")
        size += len(entry)
        if size > limit:
            raise LzStringError(f"the lz64 payload expands beyond {limit} characters")
        result.append(entry)
        dictionary.append(previous + entry[0])
        enlarge_in -= 1
        previous = entry
        if enlarge_in == 0:
            enlarge_in = 1 << num_bits
            num_bits += 1
