"""The v1 form parser against botocore's own query serializer: whatever botocore sends,
the parser gives back the parameters it was given (pure: no server, no request)."""
import urllib.parse

from botocore.serialize import create_serializer

from simulator.api.query import MAX_DEPTH, _Parser, service_model


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


def _depth(shape, seen=()) -> int:
    """Dotted segments of the deepest form key botocore can send for `shape`."""
    if shape.name in seen:
        raise AssertionError(f"recursive shape {shape.name}")
    seen = (*seen, shape.name)
    if shape.type_name == "structure":
        return 1 + max((_depth(member, seen) for member in shape.members.values()), default=0)
    if shape.type_name == "list":
        return (1 if shape.serialization.get("flattened") else 2) + _depth(shape.member, seen)
    if shape.type_name == "map":
        return 3 + max(_depth(shape.key, seen), _depth(shape.value, seen))
    return 0


def test_no_key_of_the_model_is_deeper_than_the_parser_reads():
    model = service_model()
    deepest = max(_depth(model.operation_model(name).input_shape)
                  for name in model.operation_names if model.operation_model(name).input_shape is not None)
    # SendBounce's BouncedRecipientInfoList.member.1.RecipientDsnFields.ExtensionFields.member.1.Name
    assert 8 <= deepest <= MAX_DEPTH


def test_a_field_of_many_dots_is_read_to_max_depth_only():
    hostile = "Destination." + ".".join(["1"] * 100_000)
    parser = _Parser({hostile: "x", "Source": "a@example.com"})
    assert len(parser._prefixes) == MAX_DEPTH and max(map(len, parser._prefixes)) < 2 * MAX_DEPTH + 12
    model = service_model().operation_model("SendEmail")
    parser.parse(model.input_shape, "", "")
    assert "Destination" in parser.missing and "Message" in parser.missing
