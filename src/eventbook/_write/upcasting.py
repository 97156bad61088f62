"""Upcasters: explicit functions that bring stored event data up to the current schema.

Each upcaster is registered for one (event name, from-version) and moves the data one
version forward; renaming an event type is an upcaster too (it names the type the data
continues as). Chains run on every read, so the store keeps what was written and the
code only ever sees the current shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from eventbook._errors import EventSchemaError, ValidationError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Takes an event's data at one schema version and returns it at the next."""


@dataclass(frozen=True)
class _Step:
    upcaster: Upcaster | None
    to_name: str


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    # Upcasters get their own deep copy: stores may hand out the dicts they keep.
    copied: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(data))
    return copied


class Upcasters:
    """The upcaster chains of one event registry."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], _Step] = {}

    def add(
        self,
        name: str,
        from_version: int,
        upcaster: Upcaster | None = None,
        *,
        rename_to: str | None = None,
    ) -> None:
        """Read `name` data at `from_version` as version `from_version + 1`.

        With `rename_to`, the data continues under that type name (the upcaster may then
        be omitted when the data itself is unchanged).
        """
        if isinstance(from_version, bool) or not isinstance(from_version, int):
            raise ValidationError(f"from_version must be an int, not {from_version!r}")
        if from_version < 1:
            raise ValidationError(f"from_version must be 1 or more, not {from_version}")
        if upcaster is None and rename_to is None:
            raise ValidationError(f"the upcaster for {name} v{from_version} needs a function")
        if upcaster is not None and not callable(upcaster):
            raise ValidationError(f"the upcaster for {name} v{from_version} is not callable")
        key = (name, from_version)
        if key in self._steps:
            raise ValidationError(f"{name} v{from_version} already has an upcaster")
        self._steps[key] = _Step(upcaster, rename_to or name)

    def moves_on(self, name: str, version: int) -> bool:
        """Whether an upcaster takes `name` data at `version` further."""
        return (name, version) in self._steps

    def __bool__(self) -> bool:
        return bool(self._steps)

    def upcast(
        self, name: str, version: int, data: dict[str, Any], current: Mapping[str, int]
    ) -> tuple[str, int, dict[str, Any]]:
        """Follow the chain from (`name`, `version`) while upcasters exist.

        Returns the final type name, schema version and data. `current` holds the schema
        version of each registered type, so that a chain that stops short, or data newer
        than this code, is reported instead of being read in the wrong shape. A type that
        is not registered comes back as far as the chain takes it.
        """
        if isinstance(version, bool) or not isinstance(version, int):
            raise EventSchemaError(
                f"stored {name} has a schema version that is not an int: {version!r}"
            )
        copied = False
        while True:
            step = self._steps.get((name, version))
            if step is None:
                break
            if step.upcaster is not None:
                if not copied:
                    data, copied = _copy(data), True
                try:
                    result = step.upcaster(data)
                except Exception as exc:
                    raise EventSchemaError(
                        f"the upcaster for {name} v{version} failed: {exc!r}"
                    ) from exc
                if not isinstance(result, dict):
                    raise EventSchemaError(
                        f"the upcaster for {name} v{version} returned a"
                        f" {type(result).__name__}, not a dict"
                    )
                data = result
            name, version = step.to_name, version + 1
        target = current.get(name)
        if target is not None and version != target:
            raise version_mismatch(name, version, target)
        return name, version, data


def version_mismatch(name: str, version: object, target: int) -> EventSchemaError:
    """The error for stored `name` data at `version` that no upcaster brings to `target`."""
    if not isinstance(version, int) or isinstance(version, bool):
        return EventSchemaError(
            f"stored {name} has a schema version that is not an int: {version!r}"
        )
    if version > target:
        return EventSchemaError(
            f"stored {name} data is schema version {version}, newer than the"
            f" registered version {target}; deploy the code that wrote it"
        )
    return EventSchemaError(
        f"no upcaster takes {name} from schema version {version} towards the"
        f" registered version {target}; add one with add_upcaster({name!r}, {version}, …)"
    )
