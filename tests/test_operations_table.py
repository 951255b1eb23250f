"""The README's operations table is generated from the botocore models and the live app's
routes; this fails when it is stale (run `python -m simulator.testing.operations --write README.md`)."""
from __future__ import annotations

from pathlib import Path

from simulator.testing import operations

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_table_is_current():
    section = operations.render(operations.served_operations())
    text = README.read_text(encoding="utf-8")
    assert operations.splice(text, section) == text, \
        "README operations table is stale: python -m simulator.testing.operations --write README.md"


def test_a_route_with_a_path_variable_does_not_serve_the_longer_uris_below_it():
    adapter = operations._url_adapter()
    assert operations.rest_json_served(adapter, "GET", "/v2/email/identities/{EmailIdentity}")
    # GET /v2/email/identities/<path:identity> would take "x/policies" as an identity name.
    assert not operations.rest_json_served(adapter, "GET", "/v2/email/identities/{EmailIdentity}/policies")
    assert not operations.rest_json_served(adapter, "DELETE", "/v2/email/outbound-emails")
    assert not operations.rest_json_served(adapter, "GET", "/_sim/health")


def test_every_operation_of_the_three_models_is_listed():
    table = operations.served_operations()
    assert {service for service, _ in operations.APIS} == set(table)
    assert table["sesv2"]["PutEmailIdentityMailFromAttributes"] and table["ses"]["SetIdentityMailFromDomain"]
    assert not table["ses"]["CreateReceiptRule"]
    rendered = operations.render(table)
    for service in table:
        for name in table[service]:
            assert f"| {name} |" in rendered
