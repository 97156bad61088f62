"""Checking commands against their declared types, with every bad field named.

msgspec stops at the first problem; a user fixing a form wants all of them, so a
failed conversion is followed by a check of each field on its own.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from eventbook._errors import CommandValidationError

T = TypeVar("T")

_AT_ROOT = re.compile(r" - at `\$`$")
_UNIONS = (typing.Union, types.UnionType)


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


def _field_problems(cls: type[Any], payload: Mapping[Any, Any], where: str = "") -> dict[str, str]:
    """Each bad field of `payload` as `cls` declares it, nested objects and lists of them
    walked into, so that every bad field is named (`items[1].quantity`), not the first."""
    problems: dict[str, str] = {}
    fields = _fields(cls)
    for name, field_type, required in fields:
        place = f"{where}.{name}" if where else name
        if name not in payload:
            if required:
                problems[place] = "required field missing"
            continue
        problems.update(_value_problems(field_type, payload[name], place))
    if _forbids_unknown(cls):
        known = {name for name, _, _ in fields}
        for name in payload:
            if name not in known:
                place = f"{where}.{name}" if where else str(name)
                problems[place] = "unknown field"
    return problems


def _value_problems(value_type: Any, value: object, place: str) -> dict[str, str]:
    inner = _struct_of(value_type)
    if inner is not None and isinstance(value, Mapping):
        found = _field_problems(inner, value, place)
        if found:
            return found
    element = _list_element(value_type)
    if element is not None and _struct_of(element) is not None and isinstance(value, list):
        found = {}
        for index, item in enumerate(value):
            found.update(_value_problems(element, item, f"{place}[{index}]"))
        if found:
            return found
    try:
        msgspec.convert(value, value_type)
    except msgspec.ValidationError as exc:
        return {place: _message(str(exc), value_type, value, place)}
    return {}


def _message(raw: str, value_type: Any, value: object, place: str) -> str:
    """msgspec's message without its location (the key says it), with the choices of an
    enum and the value given when the message does not already show it."""
    message = _AT_ROOT.sub("", raw).replace("`$", f"`$.{place}")
    shown = _shown(value)
    already = ", got " in message or message.endswith(shown)  # "Invalid enum value 'USD'"
    if not already and not isinstance(value, dict | list):
        message = f"{message}, got {shown}"
    choices = _choices(value_type)
    if choices:
        message = f"{message}; expected one of {', '.join(repr(c) for c in choices)}"
    return message


def _choices(value_type: Any) -> tuple[Any, ...]:
    base = _unannotated(value_type)
    if typing.get_origin(base) is typing.Literal:
        return typing.get_args(base)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return tuple(member.value for member in base)
    return ()


def _unannotated(value_type: Any) -> Any:
    while typing.get_origin(value_type) is typing.Annotated:
        value_type = typing.get_args(value_type)[0]
    return value_type


def _struct_of(value_type: Any) -> type[Any] | None:
    """The struct or dataclass a field holds (also when optional), else None."""
    base = _unannotated(value_type)
    candidates = typing.get_args(base) if typing.get_origin(base) in _UNIONS else (base,)
    for candidate in map(_unannotated, candidates):
        if isinstance(candidate, type) and (
            issubclass(candidate, msgspec.Struct) or dataclasses.is_dataclass(candidate)
        ):
            return candidate
    return None


def _list_element(value_type: Any) -> Any | None:
    base = _unannotated(value_type)
    if typing.get_origin(base) in (list, tuple, set, frozenset):
        args = typing.get_args(base)
        if args and (len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis)):
            return args[0]
    return None


def _forbids_unknown(cls: type[Any]) -> bool:
    return issubclass(cls, msgspec.Struct) and bool(cls.__struct_config__.forbid_unknown_fields)


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
