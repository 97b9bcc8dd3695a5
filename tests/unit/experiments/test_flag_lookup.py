"""The experiments' view of a flag, over the flags service's stored definitions."""

from __future__ import annotations

from shelf.experiments.flag_lookup import FlagServiceLookup, FlagVariant
from shelf.flags.schemas import FlagWrite


class Definitions:
    """The one method of the flags service the lookup uses, over fixed definitions."""

    def __init__(self, *flags: FlagWrite) -> None:
        self.flags = {flag.key: flag for flag in flags}
        self.asked: list[str] = []

    async def definition(self, key: str) -> FlagWrite | None:
        self.asked.append(key)
        return self.flags.get(key)


LAYOUT = FlagWrite.model_validate(
    {
        "key": "layout",
        "type": "multivariate",
        "variants": [
            {"key": "control", "weight": 25},
            {"key": "a", "weight": 25},
            {"key": "b", "weight": 50},
        ],
    }
)
SWITCH = FlagWrite.model_validate({"key": "switch", "type": "boolean", "rollout": 100})


async def test_a_multivariate_flag_gives_its_variants_in_order_with_their_weights() -> None:
    lookup = FlagServiceLookup(Definitions(LAYOUT, SWITCH))
    assert await lookup.variants("layout") == [
        FlagVariant("control", 25.0),
        FlagVariant("a", 25.0),
        FlagVariant("b", 50.0),
    ]


async def test_a_boolean_flag_has_no_variants_and_a_missing_one_is_none() -> None:
    source = Definitions(LAYOUT, SWITCH)
    lookup = FlagServiceLookup(source)
    assert await lookup.variants("switch") == []
    assert await lookup.variants("nothing") is None
    assert await lookup.variants("layout") is not None
    assert source.asked == ["switch", "nothing", "layout"]  # read every time: nothing cached here
