"""Readiness: named checks, each with why it failed; ready when all pass.

A projection build fails its check when it is stuck (`ProjectionStatus.stuck`: halted at
a parked event, or behind with no progress for `stuck_after` seconds) or failed; a build
that is merely behind while it moves is ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eventbook._store.port import EventStore
from eventbook.projections._status import ProjectionState, ProjectionStatus

Probe = Callable[[], Awaitable[object]]
"""An extra check: returns when the dependency answers, raises when it does not."""

PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> list[str]:
        return [check.name for check in self.checks if not check.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "ready" if self.ready else "not ready",
            "failed": self.failed,
            "checks": [check.__dict__ for check in self.checks],
        }


async def probe(name: str, action: Probe, timeout: float = PROBE_TIMEOUT) -> Check:
    """Run one probe; a timeout or an error fails it, saying which."""
    try:
        async with asyncio.timeout(timeout):
            await action()
    except TimeoutError:
        return Check(name, False, f"no answer within {timeout:g} s")
    except Exception as error:
        return Check(name, False, f"{type(error).__name__}: {error}"[:300])
    return Check(name, True, "ok")


def projection_checks(statuses: Sequence[ProjectionStatus]) -> list[Check]:
    """One check per active build: `projection:<name>@v<version>`."""
    checks = []
    for item in statuses:
        if not item.active or item.state is ProjectionState.RETIRED:
            continue
        name = f"projection:{item.name}@v{item.version}"
        if item.state is ProjectionState.FAILED:
            error = (item.last_error or "").partition("\n")[0]
            checks.append(Check(name, False, f"halted at a parked event: {error}"[:300]))
        elif item.state is ProjectionState.WAITING:
            error = (item.last_error or "").partition("\n")[0]
            checks.append(Check(name, False, error[:300]))
        elif item.stuck:
            checks.append(
                Check(
                    name,
                    False,
                    f"stuck: {item.lag_events} event(s) behind ({item.lag_seconds:.0f} s)"
                    " with no progress",
                )
            )
        else:
            checks.append(Check(name, True, f"{item.state.value}, {item.lag_events} behind"))
    return checks


async def readiness(
    store: EventStore,
    statuses: Sequence[ProjectionStatus] | None,
    probes: Mapping[str, Probe] | None = None,
) -> Readiness:
    """The store's check (`head()` answers), each build's, and any extra `probes`."""
    checks = [await probe("event_store", store.head)]
    if statuses is not None:
        checks += projection_checks(statuses)
    for name, action in (probes or {}).items():
        checks.append(await probe(name, action))
    return Readiness(tuple(checks))
