"""Experiment domain errors."""

from __future__ import annotations

from shelf.platform.errors import Conflict, InvalidInput, NotFound


class ExperimentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("no experiment with this id exists")


class DuplicateExperimentKey(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(f"an experiment with the key '{key}' exists already")


class InvalidTransition(Conflict):
    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"a {status} experiment cannot be {action}")


class UnknownFlag(InvalidInput):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"no flag with the key '{key}' exists: create the multivariate flag first",
            [{"field": "flag_key", "in": "body", "message": "no flag with this key exists"}],
        )


class NotAnExperimentFlag(InvalidInput):
    def __init__(self, key: str) -> None:
        super().__init__(
            f"the flag '{key}' is not a multivariate flag with two or more variants: "
            "an experiment compares a multivariate flag's variants",
            [{"field": "flag_key", "in": "body", "message": "not a multivariate flag"}],
        )


class UnknownControlVariant(InvalidInput):
    def __init__(self, variant: str, variants: list[str]) -> None:
        super().__init__(
            f"the flag has no variant '{variant}' (it has {', '.join(variants)})",
            [{"field": "control_variant", "in": "body", "message": "not one of the flag's variants"}],
        )
