"""Who may call what: every endpoint needs a key, except liveness, readiness and the docs.

Roles (`Role`): a reader's key reads (queries, history, the event store explorer, the live
feed), a writer's also sends commands, an operator's also acts on projections, parked
events and keys. Keys come in `X-API-Key`. Two exceptions, each for a client that cannot
send that header:

- the live feed (`EventSource` sends no headers) also takes `?token=`, a feed token from
  `POST /api/feed/token`: it names the key by the start of its hash, expires after
  `FEED_TOKEN_SECONDS`, and is signed with an HMAC keyed by the key's stored hash, so every
  process can check it and none has to share a secret. A revoked key's tokens die with it;
- `/metrics` also takes `Authorization: Bearer <key>`, what Prometheus sends.

`ORDERS_ANONYMOUS_READS=1` lets reads through without a key (unsafe: documented as such).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from apps.orders.api.problems import Problem
from apps.orders.api_keys import Role, key_hash
from apps.orders.service import OrdersService

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an issued API key")
FEED_TOKEN_SECONDS = 60
_TOKEN_PREFIX = 32  # hex digits of the key's hash named in a token


def service_of(request: Request) -> OrdersService:
    service: OrdersService = request.app.state.service
    return service


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's role and hash, or no key when anonymous reads are on."""

    role: Role | None
    key_hash: str | None

    def still_allowed(self, service: OrdersService) -> bool:
        """False once the key was revoked (checked again by long-lived responses)."""
        return self.key_hash is None or service.api_keys.role_of_hash(self.key_hash) is not None


def authorize(request: Request, key: str | None, needed: Role) -> Caller:
    """The caller, if its key allows `needed`; otherwise a 401 or 403 problem."""
    service = service_of(request)
    if not key:
        if needed is Role.READER and service.settings.anonymous_reads:
            return Caller(None, None)
        raise Problem(401, "api-key-required", "API key required", "send it in X-API-Key")
    digest = key_hash(key)
    return _allowed(service, digest, needed)


def _allowed(service: OrdersService, digest: str, needed: Role) -> Caller:
    role = service.api_keys.role_of_hash(digest)
    if role is None:
        raise Problem(
            401, "api-key-unknown", "Unknown API key", "this key was never issued, or was revoked"
        )
    if not role.allows(needed):
        raise Problem(
            403,
            f"{needed.value}-role-required",
            f"{needed.value.capitalize()} role required",
            f"this {role.value} key may not do this",
        )
    return Caller(role, digest)


class Access:
    """A dependency: the request's `X-API-Key` must allow `role`."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(
        self, request: Request, api_key: str | None = Security(api_key_header)
    ) -> Caller:
        return authorize(request, api_key, self.role)


def bearer_or_key(request: Request) -> str | None:
    """The key in `X-API-Key`, or else in `Authorization: Bearer`."""
    if key := request.headers.get("x-api-key"):
        return key
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


def feed_token(caller: Caller, now: float | None = None) -> str:
    """A token that opens the live feed for a while, as `caller`."""
    assert caller.key_hash is not None
    expires = int((time.time() if now is None else now) + FEED_TOKEN_SECONDS)
    body = f"{caller.key_hash[:_TOKEN_PREFIX]}.{expires}"
    return f"{body}.{_signature(caller.key_hash, body)}"


def authorize_token(request: Request, token: str, now: float | None = None) -> Caller:
    """The caller a feed token stands for; 401 when it is forged, expired or revoked."""
    service = service_of(request)
    named, _, rest = token.partition(".")
    expires, _, signature = rest.partition(".")
    digest = next((d for d in service.api_keys.hashes() if d.startswith(named)), None)
    valid = (
        len(named) == _TOKEN_PREFIX
        and expires.isdigit()
        and digest is not None
        and hmac.compare_digest(signature, _signature(digest, f"{named}.{expires}"))
    )
    if not valid:
        raise Problem(
            401, "feed-token-invalid", "Invalid feed token", "ask POST /api/feed/token for one"
        )
    if int(expires) < (time.time() if now is None else now):
        raise Problem(
            401, "feed-token-expired", "Feed token expired", "ask POST /api/feed/token for another"
        )
    assert digest is not None
    return _allowed(service, digest, Role.READER)


def _signature(digest: str, body: str) -> str:
    mac = hmac.new(bytes.fromhex(digest), b"orders-feed-token:" + body.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


READER = Depends(Access(Role.READER))
WRITER = Depends(Access(Role.WRITER))
OPERATOR = Depends(Access(Role.OPERATOR))
"""Route dependencies: `dependencies=[READER]` (a reader's key or better)."""


async def metrics_access(request: Request) -> None:
    """`/metrics` needs an operator key (`Authorization: Bearer` is what Prometheus sends),
    unless `ORDERS_METRICS_ACCESS=open` (when only the scraper's network reaches it)."""
    if service_of(request).settings.metrics_access != "open":
        authorize(request, bearer_or_key(request), Role.OPERATOR)
