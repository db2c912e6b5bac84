"""Schemathesis against the server's OpenAPI description: generated requests (fitting the schema and
deliberately not), signed like an enrolled agent's so they reach validation and storage, never get a
server error."""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from agent.certs.signing import request_signer
from server_stub.api.app import Limits
from trust_peers import DATABASES, start_site, stop_site

EXAMPLES = int(os.environ.get("FLEETMETER_FUZZ_EXAMPLES", "12"))  # per operation; raise it for a longer hunt


@pytest.fixture(scope="module", params=DATABASES)
def site(request, tmp_path_factory):
    work = tmp_path_factory.mktemp(f"openapi-{request.param}")
    site = start_site(request.param, work, Limits(rate_per_minute=0))
    site.agent = site.enrolled(work / "agents")
    yield site
    stop_site(site)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_error(site, mode):
    api = schemathesis.openapi.from_url(site.url + "/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/enroll", "/v1/ingest"}
    http = requests.Session()
    http.trust_env = False
    http.auth = request_signer(site.agent.store, site.agent.store.enrolment().fingerprint)
    statuses: set[int] = set()
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.method.upper() != "POST":
            continue  # nothing to break in a GET without parameters
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call_and_validate(session=http, checks=[not_a_server_error])
            statuses.add(response.status_code)

        check()
    assert statuses and max(statuses) < 500
