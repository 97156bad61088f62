"""The Orders API fuzzed from its own OpenAPI schema, over real HTTP, on both profiles.

Schemathesis derives requests from `/openapi.json` (its examples phase, the edge cases of
every constraint, random valid and invalid input, undeclared methods), sends them with a
writer key so that the commands run, and checks each answer against the schema: no server
error, only documented status codes and content types, bodies that match their
documented schemas, invalid input refused, valid input accepted (or refused by a business
rule), `Allow` on a 405, and no command run without its API key.

Generation is deterministic and bounded per operation. The run goes through Schemathesis'
engine, as its command line does.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import MutableMapping
from typing import Any

import httpx
import schemathesis
from apps.orders.api_keys import key_hash
from schemathesis import Case, HookContext
from schemathesis.core.result import Ok
from schemathesis.engine import Status, events, from_schema
from schemathesis.schemas import BaseSchema

from eventbook import Position
from tests.orders.conftest import OPERATOR_KEY, READER_KEY, WRITER_KEY, RunningService

MAX_EXAMPLES = 25
SEED = 20_261_127
POSITION = re.compile(r"(?:[0-9]{1,20}:)?[0-9]{1,20}")
KEPT = [key_hash(key) for key in (OPERATOR_KEY, WRITER_KEY, READER_KEY)]
UNFUZZED = {"GET /api/feed", "POST /api/customers/{customer_id}/forget"}
"""An endless event stream: `test_api.py` reads it; forgetting destroys keys and rebuilds
every read model under the other tests: `test_forget.py` covers it on services of its own."""

CONFIG: dict[str, Any] = {
    "seed": SEED,
    "headers": {"X-API-Key": OPERATOR_KEY},  # may call every operation
    "request-timeout": 30,
    "workers": 1,
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
    "checks": {
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "negative_data_rejection": {"enabled": True},
        # Valid input may still break a business rule (409), name no order (404) or one
        # the fuzzer deleted before (410), or carry a version the order is not at (412).
        "positive_data_acceptance": {
            "enabled": True,
            "expected-statuses": ["2XX", 404, 409, 410, 412],
        },
        "missing_required_header": {"enabled": True},
        "unsupported_method": {"enabled": True},
        "allow_header_conformance": {"enabled": True},
        "ignored_auth": {"enabled": True},
        "use_after_free": {"enabled": False},
        "ensure_resource_availability": {"enabled": False},
        "object_level_authorization": {"enabled": False},
    },
}


def load(service: RunningService) -> BaseSchema:
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json", config=config)
    return schema.exclude(path=[label.split(" ", 1)[1] for label in UNFUZZED])


def head_of(service: RunningService) -> Position:
    summary = httpx.get(
        f"{service.url}/api/store/summary", headers=service.reader, timeout=30
    ).json()
    return Position.parse(summary["head"])


def adjusted(schema: BaseSchema, head: Position) -> None:
    """Two generated values the API refuses by design, whatever the schema allows:

    - a `min_position` past the store's head waits out the read-your-writes bound and is
      answered `503`; the fuzzer asks for the head instead, so that it exercises the
      endpoint rather than the wait (`test_a_position_never_reached_is_a_documented_503`);
    - a revocation of a key the test suite uses (the fuzzer reuses ids `GET /api/keys`
      answered) revokes an unknown id instead;
    - an `Idempotency-Key` sent again with another command is refused (422); the fuzzer
      repeats values on purpose, so a valid key is made unique (`test_api.py` covers
      retries with one key).
    """

    @schema.hook("map_case")
    def bounded(context: HookContext, case: Case[Any]) -> Case[Any]:
        headers: MutableMapping[str, Any] = case.headers or {}
        key = headers.get("idempotency-key")
        if isinstance(key, str) and len(key) <= 200:
            case.headers["idempotency-key"] = f"fuzz-{uuid.uuid4()}"
        revoked = (case.path_parameters or {}).get("key_id")
        if isinstance(revoked, str) and any(h.startswith(revoked.lower()) for h in KEPT):
            case.path_parameters["key_id"] = "0" * 12  # not the keys the tests rely on
        wanted = (case.query or {}).get("min_position")
        reachable = not isinstance(wanted, str) or not POSITION.fullmatch(wanted)
        if not reachable and Position.parse(str(wanted)) > head:
            case.query["min_position"] = str(head)
        return case


def fuzz(schema: BaseSchema) -> tuple[list[str], Counter[str]]:
    """Every failure and error the run found, described; and the cases sent per operation."""
    found: list[str] = []
    sent: Counter[str] = Counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            sent[event.recorder.label] += len(event.recorder.interactions)
            if event.status is Status.FAILURE:
                found.extend(_failures(event))
        elif isinstance(event, events.NonFatalError):
            found.append(f"{event.label}: {event.info.title}: {event.info}")
        elif isinstance(event, events.FatalError):
            found.append(f"the run failed: {event.exception!r}")
    return found, sent


def _failures(event: events.ScenarioFinished) -> list[str]:
    described = set()
    for case_id, checks in event.recorder.checks.items():
        interaction = event.recorder.interactions.get(case_id)
        answer = "no answer"
        if interaction is not None and interaction.response is not None:
            body = interaction.response.content or b""
            answer = f"{interaction.response.status_code}: {body[:300].decode(errors='replace')}"
        for check in checks:
            if check.status is Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                described.add(
                    f"{event.recorder.label}: {failure.title} ({check.name})\n"
                    f"  {failure.message}\n  {check.failure_info.code_sample}\n  -> {answer}"
                )
    return sorted(described)


def test_every_operation_answers_as_documented(service: RunningService) -> None:
    schema = load(service)
    adjusted(schema, head_of(service))
    found, sent = fuzz(schema)
    assert not found, "\n\n".join(found)
    operations = {
        f"{result.ok().method.upper()} {result.ok().path}"
        for result in schema.get_all_operations()
        if isinstance(result, Ok)
    }
    assert len(operations) >= 20, operations
    assert not {label for label in operations if not sent[label]}, f"untested: {dict(sent)}"
    assert sum(sent.values()) >= len(operations) * MAX_EXAMPLES, dict(sent)


def test_a_position_never_reached_is_a_documented_503(service: RunningService) -> None:
    schema = schemathesis.openapi.from_url(
        f"{service.url}/openapi.json", config=schemathesis.Config.from_dict(CONFIG)
    )
    with service.client() as client:
        head = client.get("/api/store/summary").json()["head"]
    # Past the store's head, in its own shape (another store's shape is refused with 422).
    beyond = f"{10**15}:1" if ":" in head else f"{10**15}"
    case = schema["/api/orders"]["GET"].Case(query={"min_position": beyond}, headers=service.reader)
    response = case.call()
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "/problems/read-model-behind"
    case.validate_response(response, excluded_checks=[schemathesis.checks.not_a_server_error])


def test_an_undeclared_method_names_every_allowed_one(service: RunningService) -> None:
    with service.client() as client:
        refused = client.request("PUT", "/api/orders", headers=service.writer)
    assert refused.status_code == 405
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert set(refused.headers["allow"].split(", ")) == {"GET", "POST"}
