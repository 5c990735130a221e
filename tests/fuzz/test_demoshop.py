"""The demo shop under fuzzing: schemathesis over every operation of its /openapi.json (with the API key), and
Hypothesis requests the description does not cover (no key or a wrong one, unknown paths, wrong methods, raw
bodies, wrong content types)."""

from __future__ import annotations

import re

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from demoshop.app import create_app
from demoshop.config import Settings
from demoshop.db import Database
from demoshop.openapi import OPERATIONS
from tests.fuzz import strategies as hostile
from tests.fuzz.budget import FuzzBudget
from tests.fuzz.conftest import SHOP_KEY
from tests.fuzz.runner import fuzz, http_send, still_answers
from tests.fuzz.tally import Answer, Sent, Tally

pytestmark = pytest.mark.slow
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def shop_schema(fuzz_shop: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_shop}/openapi.json")


def test_openapi_describes_every_route_the_shop_serves(fuzz_shop: str, tmp_path) -> None:
    """The description and the Flask routes cannot drift apart: each route is one described operation."""
    document = requests.get(f"{fuzz_shop}/openapi.json", timeout=10).json()
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    app = create_app(Settings.from_env({}), Database(f"sqlite:///{tmp_path / 'routes.sqlite'}"))
    served = {
        (method, re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS") and rule.endpoint not in ("static", "openapi.openapi_json")
    }
    assert served == described


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: f"{op.method.upper()} {op.path}")
# Named `test_shop_api...`: the table lists each operation under "shop_api[...]".
def test_shop_api(operation, shop_schema, fuzz_shop: str, budget: FuzzBudget, tally: Tally) -> None:
    api = shop_schema[operation.path][operation.method.upper()]
    cases = st.one_of(
        api.as_strategy(generation_mode=GenerationMode.POSITIVE),
        api.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    session = requests.Session()
    headers = {"Authorization": f"Bearer {SHOP_KEY}"}

    def send(case: schemathesis.Case) -> tuple[Sent, Answer]:
        try:
            response = case.call(base_url=fuzz_shop, session=session, headers=headers, timeout=60)
        except Exception as err:  # a dropped connection or a request the client could not even send
            sent = Sent(case.method, case.formatted_path, {}, b"")
            return sent, Answer(None, "", b"", problem=f"no answer: {err.__class__.__name__}")
        prepared = response.request
        body = prepared.body if isinstance(prepared.body, bytes) else (prepared.body or "").encode()
        sent = Sent(case.method, prepared.path_url, dict(prepared.headers), body)
        problem = ""
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except BaseException as failure:  # schemathesis raises its failures as an exception group
            if isinstance(failure, (KeyboardInterrupt, SystemExit)):
                raise
            problem = "schemathesis: " + str(failure).strip().splitlines()[0][:160]
        content_type = response.headers.get("content-type", [""])
        return sent, Answer(
            response.status_code,
            content_type[0] if isinstance(content_type, list) else str(content_type),
            response.content,
            problem,
        )

    share = FuzzBudget.construct(  # the shop's API is one endpoint: its budget is shared by the operations
        examples=-(-budget.examples // len(OPERATIONS)), seconds=budget.seconds / len(OPERATIONS)
    )
    fuzz(tally, cases, send, share)
    tally.healthy_after = still_answers(f"{fuzz_shop}/health")
    assert not tally.failures and tally.healthy_after, tally.explain()


def _shop_requests() -> st.SearchStrategy[Sent]:
    paths = st.one_of(
        st.sampled_from([op.path.replace("{", "").replace("}", "") for op in OPERATIONS]),
        st.builds(lambda s: "/v1/" + s, st.text(max_size=40)),
        st.sampled_from(["/", "/v1", "/v1/", "/v2/orders", "/health/", "/openapi.json", "//v1/orders", "/v1/%00"]),
    )
    auth = st.sampled_from([{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"},
                            {"Authorization": f"Bearer {SHOP_KEY}"}, {"Authorization": "Bearer"}])  # fmt: skip
    body = hostile.json_bodies(hostile.fixed({"order_id": st.text(max_size=12), "reason": hostile.texts()}))
    return st.builds(
        lambda method, path, headers, payload: Sent(
            method, requests.utils.quote(path, safe="/%"), {**headers, "Content-Type": payload[1]}, payload[0]
        ),
        st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "HEAD"]),
        paths,
        auth,
        body,
    )


def test_shop_outside_the_description(fuzz_shop: str, budget: FuzzBudget, tally: Tally) -> None:
    fuzz(tally, _shop_requests(), http_send(requests.Session(), fuzz_shop), budget)
    tally.healthy_after = still_answers(f"{fuzz_shop}/health")
    assert not tally.failures and tally.healthy_after, tally.explain()
