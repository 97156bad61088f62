"""Checking commands against their declared types, with every bad field named.

msgspec stops at the first problem; a user fixing a form wants all of them, so a
failed conversion is followed by a check of each field on its own.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from eventbook._errors import CommandValidationError

T = TypeVar("T")

_AT_ROOT = re.compile(r" - at `\$`$")


def to_command(command_type: str, cls: type[T], payload: object) -> T:
    """Convert plain data (JSON-like) to `cls`, or raise `CommandValidationError`."""
    if not isinstance(payload, Mapping):
        raise CommandValidationError(
            command_type, {"$": f"expected a JSON object, got {type(payload).__name__}"}
        )
    try:
        return msgspec.convert(payload, cls)
    except msgspec.ValidationError as exc:
        problems = _field_problems(cls, payload) or {"$": str(exc)}
        raise CommandValidationError(command_type, problems) from None


def check_command(command_type: str, command: T) -> tuple[T, dict[str, Any]]:
    """Check a typed command's field values (constraints included); return the command as
    its type declares it (an int given for a float field becomes a float) and its plain data.

    Instances built in code skip msgspec's constraints (`Meta(ge=1)`, ...), so the command
    is converted to plain data and back.
    """
    try:
        payload = msgspec.to_builtins(command)
    except TypeError as exc:
        raise CommandValidationError(command_type, {"$": str(exc)}) from None
    if not isinstance(payload, dict):
        raise CommandValidationError(
            command_type,
            {"$": f"commands must encode to a JSON object, not {type(payload).__name__}"},
        )
    checked = to_command(command_type, type(command), payload)
    return checked, plain_data(checked)


def plain_data(command: object) -> dict[str, Any]:
    """A checked command as plain data, the same whatever the order of its sets or dicts:
    what its hash is taken of, so that one command hashes alike in every process."""
    data: dict[str, Any] = msgspec.to_builtins(command, order="deterministic")
    return data


def _field_problems(cls: type[Any], payload: Mapping[Any, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, field_type, required in _fields(cls):
        if name not in payload:
            if required:
                problems[name] = "required field missing"
            continue
        value = payload[name]
        try:
            msgspec.convert(value, field_type)
        except msgspec.ValidationError as exc:
            message = _AT_ROOT.sub("", str(exc)).replace("`$", f"`$.{name}")
            if ", got " not in message and not isinstance(value, dict | list):
                message = f"{message}, got {_shown(value)}"
            problems[name] = message
    return problems


def _shown(value: object, most: int = 60) -> str:
    """`repr(value)`, cut short: an error about a 10 MB string need not repeat it."""
    text = repr(value)
    return text if len(text) <= most else f"{text[:most]}… ({len(text)} characters)"


def _fields(cls: type[Any]) -> list[tuple[str, Any, bool]]:
    """(name in the payload, annotated type, required) for each field of a command class."""
    if issubclass(cls, msgspec.Struct):
        return [(f.encode_name, f.type, f.required) for f in msgspec.structs.fields(cls)]
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls, include_extras=True)
        return [
            (
                f.name,
                hints.get(f.name, Any),
                f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
            )
            for f in dataclasses.fields(cls)
            if f.init
        ]
    return []
