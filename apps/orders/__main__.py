"""Run the Orders service: `python -m apps.orders` (settings from ORDERS_* variables)."""

from __future__ import annotations

import sys

import uvicorn

from apps.orders.api.app import create_app
from apps.orders.api.telemetry import configure_logging
from apps.orders.api_keys import Role
from apps.orders.service import OrdersService
from apps.orders.settings import Settings
from eventbook.observability import configure_tracing_from_env


def main() -> None:
    try:
        settings = Settings.from_env()
    except ValueError as error:
        sys.exit(f"configuration error: {error}")
    configure_logging(settings.log_format)
    configure_tracing_from_env()

    def announce(service: OrdersService) -> None:
        url = f"http://{settings.host}:{settings.port}"
        lines = [
            f"Orders service ({settings.profile}) at {url}",
            f"  dashboard: {url}/",
            f"  API docs:  {url}/docs",
        ]
        for role in (Role.WRITER, Role.READER):
            if role in service.demo_keys:
                lines.append(f"  {role.value} API key: {service.demo_keys[role]}")
        print("\n".join(lines), flush=True)

    app = create_app(settings, on_started=announce)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


if __name__ == "__main__":
    main()
