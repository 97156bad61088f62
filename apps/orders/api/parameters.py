"""Query parameters an endpoint does not take are refused, not ignored.

A misspelt or unsupported parameter (`?stauts=paid`, `/state?as_of=` before it existed)
would otherwise answer as if it had not been sent, which looks right and is not. Each
endpoint declares its parameters; anything else is a `422` naming every unknown one, in
the same `errors[]` shape as any other invalid request.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

_KNOWN: dict[int, frozenset[str]] = {}


def _known(route: APIRoute) -> frozenset[str]:
    """The query parameters `route` declares (aliases as sent), computed once per route."""
    known = _KNOWN.get(id(route))
    if known is None:
        known = frozenset(_query_names(route.dependant))
        _KNOWN[id(route)] = known
    return known


def _query_names(dependant: Dependant) -> list[str]:
    """The query parameters of an endpoint and of every dependency it has (as sent)."""
    names = [param.alias for param in dependant.query_params]
    for sub in dependant.dependencies:
        names += _query_names(sub)
    return names


async def known_query_only(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _known(route)
    unknown = [name for name in dict.fromkeys(request.query_params) if name not in known]
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise RequestValidationError(
            [
                {
                    "type": "unknown_parameter",
                    "loc": ("query", name),
                    "msg": f"unknown query parameter; this endpoint takes: {takes}",
                    "input": request.query_params.get(name),
                }
                for name in unknown
            ]
        )
