"""The one rule for options that take one of a few names."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import InvalidOptionError


def one_of(option: str, value: object, names: Sequence[str]) -> str:
    """*value* lower-cased when it is one of *names* (any case).

    Raises
    ------
    InvalidOptionError
        Naming *option* and its choices, for any other value.
    """
    if isinstance(value, str) and value.lower() in names:
        return value.lower()
    raise InvalidOptionError(
        f'{option} must be one of {", ".join(names)}, got {value!r}'
    )
