"""API keys for operators: issue (the key is shown once), list, revoke.

The same actions as `python -m apps.orders keys …`; both append to the `apikey` streams,
so a key revoked here is refused at once in this process, and in every other as soon as
its subscription sees the event.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from apps.orders.api import problems, schemas
from apps.orders.api.problems import Problem
from apps.orders.api.security import OPERATOR, service_of
from apps.orders.api_keys import ApiKeyAlreadyRevoked, ApiKeyNotFound, Role

router = APIRouter(
    prefix="/api/keys",
    tags=["keys"],
    dependencies=[OPERATOR],
    responses=problems.responses(401, 403),
)

KEY = schemas.obj(
    {
        "id": schemas.STRING,
        "role": {"type": "string", "enum": [r.value for r in Role]},
        "name": schemas.STRING,
        "issued_at": schemas.TIMESTAMP,
        "revoked_at": {"anyOf": [schemas.TIMESTAMP, {"type": "null"}]},
    }
)
ISSUED = {
    **KEY,
    "required": ["key", *KEY["required"]],
    "properties": {"key": schemas.STRING, **KEY["properties"]},
}
KeyId = Annotated[
    str, Path(pattern=r"^[0-9a-f]{8,64}$", description="a key's id, from `GET /api/keys`")
]


class IssueKey(BaseModel):
    role: Literal["reader", "writer", "operator"]
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


@router.get(
    "",
    summary="Every key ever issued (never the keys themselves), oldest first",
    response_model=None,
    responses={200: _json(schemas.obj({"items": {"type": "array", "items": KEY}}), "OK")},
)
async def list_keys(request: Request) -> dict[str, Any]:
    return {"items": [k.as_dict() for k in service_of(request).api_keys.issued()]}


@router.post(
    "",
    status_code=201,
    summary="Issue a key: the answer is the only place the key is ever shown",
    response_model=None,
    responses={
        201: _json(ISSUED, "Issued: `key` is shown this once"),
        **problems.responses(400, 413, 422),
    },
)
async def issue_key(request: Request, body: IssueKey) -> JSONResponse:
    key, issued = await service_of(request).api_keys.issue(Role(body.role), body.name)
    return JSONResponse({"key": key, **issued.as_dict()}, status_code=201)


@router.delete(
    "/{key_id}",
    summary="Revoke a key: every process refuses it from now on",
    response_model=None,
    responses={200: _json(KEY, "Revoked"), **problems.responses(404, 409, 422)},
)
async def revoke_key(request: Request, key_id: KeyId) -> dict[str, Any]:
    try:
        revoked = await service_of(request).api_keys.revoke(key_id)
    except ApiKeyNotFound as missing:
        raise Problem(404, "api-key-not-found", "Not found", str(missing)) from None
    except ApiKeyAlreadyRevoked as again:
        raise Problem(409, "api-key-already-revoked", "Already revoked", str(again)) from None
    return revoked.as_dict()
