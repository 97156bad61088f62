"""The error hierarchy drawn in eventbook._errors is the real one, and all of it is public."""

from __future__ import annotations

import inspect
import re

import eventbook
import eventbook.personal
import eventbook.projections
from eventbook import _errors


def defined_errors() -> dict[str, type[BaseException]]:
    return {
        name: value
        for name, value in vars(_errors).items()
        if inspect.isclass(value)
        and issubclass(value, _errors.EventbookError)
        and value.__module__ == _errors.__name__
    }


def drawn_tree() -> dict[str, str | None]:
    """Each error named in the module docstring's tree, with the parent it is drawn under."""
    doc = _errors.__doc__ or ""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*(?:[├└]── )?)([A-Z]\w+)", line)
        if match is None or not line.startswith("    "):
            continue
        depth = len(match.group(1))
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group(2)] = stack[-1][1] if stack else None
        stack.append((depth, match.group(2)))
    return parents


def test_the_docstring_draws_every_error_under_its_real_parent() -> None:
    errors = defined_errors()
    drawn = drawn_tree()
    assert set(drawn) == set(errors)
    for name, parent in drawn.items():
        if parent is not None:
            assert errors[parent] in errors[name].__mro__, f"{name} is not a {parent}"


def test_every_error_is_exported_by_a_public_package() -> None:
    exported = (
        set(eventbook.__all__)
        | set(eventbook.projections.__all__)
        | set(eventbook.personal.__all__)
    )
    assert set(defined_errors()) <= exported
