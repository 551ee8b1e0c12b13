"""Property-based requests over the OpenAPI document the server publishes: whatever a client sends, no 5xx.

Schemathesis reads ``/v1/openapi.json`` from the app itself (so the document and the routes cannot drift apart
unnoticed) and generates bodies, parameters and headers from it, valid and invalid; hypothesis shrinks any failure
to a minimal request. Writes need an API key, so the fuzzer reaches their validation (401 before a key, as a
client without one would), never the corpus or the batch queue.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

# 30 per operation in ``make test``; the 10,000-request run sets VERACITY_FUZZ_EXAMPLES=850 (13 operations)
EXAMPLES_PER_OPERATION = int(os.environ.get("VERACITY_FUZZ_EXAMPLES", "30"))


def test_no_generated_request_gets_a_server_error(app, capsys):
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]  # every route, batches included
    sent = {op.label: 0 for op in operations}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case):
            sent[case.operation.label] += 1
            case.call_and_validate(checks=[not_a_server_error])

        no_server_error()
    with capsys.disabled():  # the count is the evidence: hypothesis stops early on a small input space
        print(f"\nfuzz: {sum(sent.values())} requests, no 5xx: {sent}")
