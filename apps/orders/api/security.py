"""API-key checks: command endpoints need a writer key; operator actions too."""

from __future__ import annotations

from fastapi import Request
from fastapi.security import APIKeyHeader

from apps.orders.api.problems import Problem
from apps.orders.api_keys import Role
from apps.orders.service import OrdersService

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an issued API key")


def service_of(request: Request) -> OrdersService:
    service: OrdersService = request.app.state.service
    return service


def role_of(request: Request, key: str | None) -> Role:
    if not key:
        raise Problem(401, "api-key-required", "API key required", "send it in X-API-Key")
    role = service_of(request).api_keys.role_of(key)
    if role is None:
        raise Problem(401, "api-key-unknown", "Unknown API key", "this key was never issued")
    return role


def require_writer(request: Request, key: str | None) -> Role:
    role = role_of(request, key)
    if role is not Role.WRITER:
        raise Problem(403, "writer-role-required", "Writer role required", "this key may only read")
    return role
