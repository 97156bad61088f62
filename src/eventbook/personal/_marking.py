"""Which fields of an event class are personal data, and whose.

A field is marked in the class declaration::

    class OrderPlaced(msgspec.Struct):
        customer_id: str
        customer: Annotated[str, PersonalData(subject="customer_id")]
        shipping_address: Annotated[Address, PersonalData(subject="customer_id")]

`subject` names the event's top-level field that holds the data subject's id (kept in
plain text: it picks the key). A marked string field is personal; a marked Struct or
dataclass field makes every string inside it personal; marks may also sit on the fields
of a nested Struct, naming a field of the event that holds it. Only strings (or optional
strings) are marked, so a forgotten value can always be read back as the placeholder.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Union

import msgspec

from eventbook._errors import ValidationError
from eventbook.personal._envelope import KEYS_SEPARATOR, PATHS_SEPARATOR, Path


@dataclasses.dataclass(frozen=True)
class PersonalData:
    """Marks a field as personal data of the subject named by the event field `subject`."""

    subject: str

    def __post_init__(self) -> None:
        if not isinstance(self.subject, str) or not self.subject:
            raise ValidationError("PersonalData(subject=...) names the field holding the subject")


@dataclasses.dataclass(frozen=True)
class Marks:
    """An event class's personal fields: for each subject field, the paths it covers."""

    by_subject: tuple[tuple[str, tuple[Path, ...]], ...]

    def __bool__(self) -> bool:
        return bool(self.by_subject)


def marks_of(cls: type[Any]) -> Marks:
    """The personal fields declared on event class `cls` (empty when it has none)."""
    found: dict[str, list[Path]] = {}
    _collect(cls, (), None, found, cls.__qualname__)
    top = dict(_fields(cls))
    for subject, paths in found.items():
        if subject not in top:
            raise ValidationError(
                f"{cls.__qualname__}: PersonalData(subject={subject!r}) names no field of the event"
            )
        kind, _ = _unwrap(top[subject][1])
        if kind is not str:
            raise ValidationError(f"{cls.__qualname__}.{subject} names a subject: it must be a str")
        if any(path[0] == subject for path in paths):
            raise ValidationError(f"{cls.__qualname__}.{subject} cannot be its own subject")
    return Marks(tuple((subject, tuple(paths)) for subject, paths in found.items()))


def _collect(
    cls: type[Any], prefix: Path, inherited: str | None, found: dict[str, list[Path]], where: str
) -> None:
    for name, (key, hint) in _fields(cls):
        kind, mark = _unwrap(hint)
        subject = mark.subject if mark is not None else inherited
        path = (*prefix, key)
        if _is_record(kind):
            _collect(kind, path, subject, found, f"{where}.{name}")
        elif subject is not None and kind is str:
            if any(KEYS_SEPARATOR in k or PATHS_SEPARATOR in k for k in path):
                raise ValidationError(
                    f"{where}.{name}: a personal field's encoded name (and those of the"
                    f" records holding it) cannot hold {KEYS_SEPARATOR!r} or"
                    f" {PATHS_SEPARATOR!r}: the envelope lists the paths with them"
                )
            found.setdefault(subject, []).append(path)
        elif mark is not None:
            raise ValidationError(
                f"{where}.{name}: only str fields (or Structs/dataclasses of them) can be"
                " marked PersonalData"
            )
        elif subject is not None or _holds_marks(kind):
            raise ValidationError(
                f"{where}.{name}: personal data inside {kind!r} is not supported; mark str"
                " fields or Structs/dataclasses that are not in a collection"
            )


def _holds_marks(kind: Any) -> bool:
    """Whether a container type (list[Address], say) holds marked fields."""
    for argument in typing.get_args(kind):
        inner, mark = _unwrap(argument)
        if mark is not None or (_is_record(inner) and _has_marks(inner)):
            return True
        if _holds_marks(inner):
            return True
    return False


def _has_marks(cls: type[Any]) -> bool:
    """Whether a Struct or dataclass holds personal fields (or wrongly marked ones)."""
    found: dict[str, list[Path]] = {}
    try:
        _collect(cls, (), None, found, cls.__qualname__)
    except ValidationError:
        return True
    return bool(found)


def _unwrap(hint: Any) -> tuple[Any, PersonalData | None]:
    """(the type without Annotated and Optional, its PersonalData mark if any)."""
    mark = None
    if typing.get_origin(hint) is typing.Annotated:
        extras = [m for m in hint.__metadata__ if isinstance(m, PersonalData)]
        if len(extras) > 1:
            raise ValidationError(f"{hint!r} is marked PersonalData more than once")
        mark = extras[0] if extras else None
        hint = hint.__origin__
    if typing.get_origin(hint) in (Union, types.UnionType):
        present = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(present) == 1:
            inner, inner_mark = _unwrap(present[0])
            return inner, mark or inner_mark
    return hint, mark


def _is_record(kind: Any) -> bool:
    if not isinstance(kind, type):
        return False
    return issubclass(kind, msgspec.Struct) or dataclasses.is_dataclass(kind)


def _fields(cls: type[Any]) -> list[tuple[str, tuple[str, Any]]]:
    """(attribute name, (key in the encoded data, type hint with its extras)) per field."""
    hints = typing.get_type_hints(cls, include_extras=True)
    if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
        names = zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True)
        return [(name, (key, hints[name])) for name, key in names]
    if dataclasses.is_dataclass(cls):
        return [(f.name, (f.name, hints[f.name])) for f in dataclasses.fields(cls)]
    return []
