"""Run the Orders service: `python -m apps.orders` (settings from ORDERS_* variables);
manage its API keys: `python -m apps.orders keys issue|list|revoke` (apps/orders/keys_cli.py);
forget a customer: `python -m apps.orders forget CUSTOMER_ID` (apps/orders/forget_cli.py)."""

from __future__ import annotations

import errno
import socket
import sys

import typer
import uvicorn

from apps.orders.api.app import create_app
from apps.orders.api.telemetry import configure_logging
from apps.orders.api_keys import Role
from apps.orders.forget_cli import forget
from apps.orders.keys_cli import keys
from apps.orders.service import DEMO_ROLES, OrdersService
from apps.orders.settings import Settings
from eventbook.observability import configure_tracing_from_env

cli = typer.Typer(
    help="The Orders service. With no command, serve it (ORDERS_* variables configure it).",
    add_completion=False,
)
cli.add_typer(keys, name="keys")
cli.command("forget")(forget)


@cli.callback(invoke_without_command=True)
def main(context: typer.Context) -> None:
    if context.invoked_subcommand is None:
        serve()


@cli.command("serve")
def serve() -> None:
    """Serve the API and the dashboard (what `python -m apps.orders` alone does)."""
    try:
        settings = Settings.from_env()
    except ValueError as error:
        sys.exit(f"configuration error: {error}")
    # Take the port first: a taken port is one clear line, before any work or any key.
    listening = listen(settings.host, settings.port)
    configure_logging(settings.log_format)
    configure_tracing_from_env()
    app = create_app(settings, on_started=lambda service: announce(settings, service))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[listening])


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port`, or exit with one line saying why not."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
        bound = socket.socket(family, kind, protocol)
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            bound.bind(address)
        except OSError:
            bound.close()
            raise
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            sys.exit(
                f"error: {host}:{port} is already in use (another Orders service?); "
                "stop it or choose another port with ORDERS_PORT"
            )
        sys.exit(f"error: cannot listen on {host}:{port}: {error.strerror or error}")
    return bound


def announce(settings: Settings, service: OrdersService) -> None:
    url = f"http://{settings.host}:{settings.port}"
    lines = [f"Orders service ({settings.profile}) at {url}"]
    if Role.OPERATOR in service.demo_keys:
        # The key rides in the fragment: browsers never send it to the server (or a log).
        link = f"{url}/#/sign-in?key={service.demo_keys[Role.OPERATOR]}"
        lines.append(f"  dashboard: {link}")
    else:
        lines.append(f"  dashboard: {url}/ (sign in with an API key)")
    lines.append(f"  API docs:  {url}/docs")
    for role in DEMO_ROLES:
        if role in service.demo_keys:
            lines.append(f"  {role.value} API key: {service.demo_keys[role]}")
    if settings.anonymous_reads:
        lines.append("  WARNING: ORDERS_ANONYMOUS_READS=1: anyone who reaches it reads every order")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    cli()
