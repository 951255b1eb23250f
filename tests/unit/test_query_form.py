"""The v1 form parser against botocore's own query serializer: whatever botocore sends,
the parser gives back the parameters it was given (pure: no server, no request)."""
import urllib.parse

from botocore.serialize import create_serializer

from simulator.api.query import _Parser, service_model


def round_trip(operation: str, params: dict) -> dict:
    model = service_model().operation_model(operation)
    body = create_serializer("query").serialize_to_request(params, model)["body"]
    pairs = urllib.parse.parse_qsl(body if isinstance(body, str) else urllib.parse.urlencode(body),
                                   keep_blank_values=True)
    form = dict(reversed(pairs))  # the items' order comes from their numbers, not the form's
    parser = _Parser(form)
    parsed = parser.parse(model.input_shape, "", "")
    assert parser.missing == [] and parser.violations == []
    return parsed


def test_a_bulk_send_comes_back_as_sent_entries_in_order():
    destinations = [{"Destination": {"ToAddresses": [f"to{i}@example.org", f"also{i}@example.org"],
                                     **({"CcAddresses": [f"cc{i}@example.org"]} if i % 3 == 0 else {})},
                     "ReplacementTemplateData": f'{{"n": {i}}}',
                     **({"ReplacementTags": [{"Name": "n", "Value": str(i)}]} if i % 4 == 0 else {})}
                    for i in range(12)]  # 12: item 10 must follow 9, not 1
    params = {"Source": "news@example.com", "Template": "digest", "DefaultTemplateData": "{}",
              "DefaultTags": [{"Name": "kind", "Value": "digest"}], "Destinations": destinations}
    assert round_trip("SendBulkTemplatedEmail", params) == params


def test_absent_structures_and_lists_stay_absent():
    params = {"Source": "a@example.com", "Destination": {"BccAddresses": ["b@example.org"]},
              "Message": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}}}
    assert round_trip("SendEmail", params) == params


def test_missing_required_members_are_named():
    model = service_model().operation_model("SendEmail")
    parser = _Parser({"Source": "a@example.com", "Destination.ToAddresses.member.1": "b@example.org",
                      "Message.Body.Text.Data": "t"})
    parser.parse(model.input_shape, "", "")
    assert parser.missing == ["Message.Subject"]


def test_fields_that_are_not_items_are_ignored():
    model = service_model().operation_model("SendEmail")
    parsed = _Parser({"Destination.ToAddresses.member.0": "zero@example.org",
                      "Destination.ToAddresses.member.01": "lead@example.org",
                      "Destination.ToAddresses.member.2": "two@example.org",
                      "Destination.ToAddresses.member.x": "x@example.org"}).parse(model.input_shape, "", "")
    assert parsed["Destination"] == {"ToAddresses": ["two@example.org"]}
