"""Semantic versions (semver.org 2.0.0) parsed into keys that compare by precedence.

``parse_semver("1.4.0-rc.1")`` is a tuple that sorts below ``parse_semver("1.4.0")``: a
pre-release comes before its release, numeric identifiers compare as numbers and below
alphanumeric ones, and build metadata (``+...``) is ignored. A leading ``v`` is accepted, as apps
often report ``v2.3.1``; ``1.4`` is read as ``1.4.0``.
"""

from __future__ import annotations

import re

_SEMVER = re.compile(
    r"v?(0|[1-9]\d{0,8})(?:\.(0|[1-9]\d{0,8}))?(?:\.(0|[1-9]\d{0,8}))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)
# Each pre-release identifier as (0, number) or (1, text): numbers sort first, as the spec says.
Identifier = tuple[int, int | str]
SemverKey = tuple[int, int, int, int, tuple[Identifier, ...]]


def parse_semver(text: str) -> SemverKey | None:
    if len(text) > 64:
        return None
    match = _SEMVER.fullmatch(text)
    if match is None:
        return None
    major, minor, patch, pre = match.groups()
    identifiers: tuple[Identifier, ...] = ()
    if pre:
        identifiers = tuple((0, int(part)) if part.isdigit() else (1, part) for part in pre.split("."))
    # A release (no pre-release) sorts after every pre-release of the same version.
    return (int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, identifiers)
