"""The `eventbook` operator CLI (typer + rich; `pip install eventbook[cli]`).

    eventbook streams --store sqlite:///orders.db
    eventbook projections status --app apps.orders.projections:build --store ...
    eventbook copy sqlite:///orders.db postgresql://db/orders

One module per command group: `store` (streams, read, event, tail, stats, migrate),
`travel` (state), `projections`, `copying` (copy, export, import, on `transfer`),
`maintenance` (retention, maintain, archive, on `archiving`).
Exit codes: 0 done, 1 the operation failed, 2 bad usage. See docs/cli.md.
"""

from __future__ import annotations

import typer

from eventbook.cli import copying, maintenance, projections, store, travel

app = typer.Typer(
    name="eventbook",
    help="Operate an eventbook event store: streams, events, time travel, projections, copies."
    " The store comes from --store URL or EVENTBOOK_STORE.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for group in (store, travel, projections, copying, maintenance):
    group.register(app)


def main() -> None:
    """The console script `eventbook`."""
    app()
