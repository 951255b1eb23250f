"""Templates, configuration sets and tags on the three APIs, through real boto3 clients
(SPEC §10): every operation, and every kind of bad input answered in the caller's
protocol with nothing sent, created or changed."""
import json

import pytest
from botocore.exceptions import ClientError

from tests.api.test_identities import error_of
from tests.api.test_send import outbox

SENDER = "app@example.com"
TO = {"ToAddresses": ["user@example.org"]}
CONTENT = {"Subject": "Hi {{name}}", "Text": "Dear {{name}}", "Html": "<p>{{#each items}}[{{this}}]{{/each}}</p>"}
DATA = json.dumps({"name": "Ada", "items": ["a", "b"]})


@pytest.fixture
def ready(sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.create_email_template(TemplateName="welcome", TemplateContent=CONTENT)
    return sesv2


def message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


# --- templates: v2 ------------------------------------------------------------------
def test_v2_template_lifecycle(sesv2):
    sesv2.create_email_template(TemplateName="welcome", TemplateContent=CONTENT,
                                Tags=[{"Key": "team", "Value": "growth"}])
    got = sesv2.get_email_template(TemplateName="welcome")
    assert (got["TemplateName"], got["TemplateContent"], got["Tags"]) == (
        "welcome", CONTENT, [{"Key": "team", "Value": "growth"}])
    sesv2.update_email_template(TemplateName="welcome", TemplateContent={"Subject": "Bye {{name}}"})
    assert sesv2.get_email_template(TemplateName="welcome")["TemplateContent"] == {"Subject": "Bye {{name}}"}
    sesv2.create_email_template(TemplateName="another", TemplateContent={"Text": "x"})
    first = sesv2.list_email_templates(PageSize=1)
    assert [t["TemplateName"] for t in first["TemplatesMetadata"]] == ["another"]
    second = sesv2.list_email_templates(PageSize=1, NextToken=first["NextToken"])
    assert [t["TemplateName"] for t in second["TemplatesMetadata"]] == ["welcome"] and "NextToken" not in second
    assert "CreatedTimestamp" in second["TemplatesMetadata"][0]
    sesv2.delete_email_template(TemplateName="welcome")
    with pytest.raises(ClientError) as excinfo:
        sesv2.get_email_template(TemplateName="welcome")
    assert error_of(excinfo) == ("NotFoundException", 404)


def test_v2_test_render_uses_handlebars(ready):
    rendered = ready.test_render_email_template(TemplateName="welcome", TemplateData=DATA)["RenderedTemplate"]
    assert "Subject: Hi Ada" in rendered and "Dear Ada" in rendered and "<p>[a][b]</p>" in rendered


@pytest.mark.parametrize("line_break", list("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"))
def test_a_line_break_in_a_rendered_subject_is_rendered_as_a_space(sesv2, ses, line_break):
    """Any character str.splitlines() breaks on (not only CR and LF) would end the Subject
    field early: TestRender shows it as a space, on both APIs (this was a 500)."""
    sesv2.create_email_template(TemplateName="broken", TemplateContent={"Subject": "Hi {{name}}", "Text": "x"})
    data = json.dumps({"name": f"Ada{line_break}Bcc: victim@example.org"})
    for rendered in (sesv2.test_render_email_template(TemplateName="broken", TemplateData=data)["RenderedTemplate"],
                     ses.test_render_template(TemplateName="broken", TemplateData=data)["RenderedTemplate"]):
        lines = rendered.replace("\r\n", "\n").split("\n")
        assert lines[0] == "Subject: Hi Ada Bcc: victim@example.org", rendered
        assert not any(line.startswith("Bcc:") for line in lines)


def test_v2_test_render_with_an_unset_variable_names_it(ready):
    with pytest.raises(ClientError) as excinfo:
        ready.test_render_email_template(TemplateName="welcome", TemplateData="{}")
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert message(excinfo) == "Attribute 'name' is not present in the rendering data."


@pytest.mark.parametrize("call, kwargs", [
    ("get_email_template", {}), ("delete_email_template", {}),
    ("update_email_template", {"TemplateContent": {"Text": "x"}}),
    ("test_render_email_template", {"TemplateData": "{}"}),
])
def test_v2_unknown_template_is_not_found(sesv2, call, kwargs):
    with pytest.raises(ClientError) as excinfo:
        getattr(sesv2, call)(TemplateName="ghost", **kwargs)
    assert error_of(excinfo) == ("NotFoundException", 404)


def test_v2_a_duplicate_template_already_exists(ready):
    with pytest.raises(ClientError) as excinfo:
        ready.create_email_template(TemplateName="welcome", TemplateContent=CONTENT)
    assert error_of(excinfo) == ("AlreadyExistsException", 400)


@pytest.mark.parametrize("name, content", [
    ("big", {"Html": "x" * (500 * 1024 + 1)}),  # SES: 500 KB per template
    ("bad name!", {"Text": "x"}),
    ("broken", {"Text": "{{#each items}}{{/if}}"}),
    ("empty", {}),
])
def test_v2_invalid_templates_are_refused_and_not_stored(sesv2, name, content):
    with pytest.raises(ClientError) as excinfo:
        sesv2.create_email_template(TemplateName=name, TemplateContent=content)
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert sesv2.list_email_templates()["TemplatesMetadata"] == []


def test_pinpoint_has_no_template_operations(pinpoint):
    assert not hasattr(pinpoint, "create_email_template")  # the pinpoint-email model has none


# --- templates: v1 ------------------------------------------------------------------
def test_v1_template_lifecycle_shares_state_with_v2(ses, sesv2):
    ses.create_template(Template={"TemplateName": "t1", "SubjectPart": "Hi {{name}}", "TextPart": "Dear {{name}}"})
    assert ses.get_template(TemplateName="t1")["Template"] == {
        "TemplateName": "t1", "SubjectPart": "Hi {{name}}", "TextPart": "Dear {{name}}"}
    assert sesv2.get_email_template(TemplateName="t1")["TemplateContent"]["Subject"] == "Hi {{name}}"
    ses.update_template(Template={"TemplateName": "t1", "SubjectPart": "Yo", "HtmlPart": "<b>{{name}}</b>"})
    assert ses.get_template(TemplateName="t1")["Template"]["HtmlPart"] == "<b>{{name}}</b>"
    assert [t["Name"] for t in ses.list_templates()["TemplatesMetadata"]] == ["t1"]
    assert "Yo" in ses.test_render_template(TemplateName="t1", TemplateData='{"name": "x"}')["RenderedTemplate"]
    ses.delete_template(TemplateName="t1")
    ses.delete_template(TemplateName="t1")  # v1 models no error for a template that is gone
    assert ses.list_templates()["TemplatesMetadata"] == []


def test_v1_list_templates_pages_as_its_model_says(ses):
    """ses ListTemplates: 10 by default; more than 100 asked for is 100."""
    for i in range(105):
        ses.create_template(Template={"TemplateName": f"t{i:03}", "TextPart": "x"})
    first = ses.list_templates()
    assert len(first["TemplatesMetadata"]) == 10 and first["NextToken"]
    assert len(ses.list_templates(MaxItems=1000)["TemplatesMetadata"]) == 100
    with pytest.raises(ClientError) as excinfo:
        ses.list_templates(MaxItems=0)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    assert sum(len(page["TemplatesMetadata"]) for page in ses.get_paginator("list_templates").paginate()) == 105


@pytest.mark.parametrize("call, kwargs", [
    ("get_template", {"TemplateName": "ghost"}),
    ("test_render_template", {"TemplateName": "ghost", "TemplateData": "{}"}),
    ("update_template", {"Template": {"TemplateName": "ghost", "TextPart": "x"}}),
])
def test_v1_unknown_template_is_template_does_not_exist(ses, call, kwargs):
    with pytest.raises(ClientError) as excinfo:
        getattr(ses, call)(**kwargs)
    assert error_of(excinfo) == ("TemplateDoesNotExist", 400)


def test_v1_render_errors_use_v1_codes(ses, ready):
    with pytest.raises(ClientError) as excinfo:
        ses.test_render_template(TemplateName="welcome", TemplateData="{}")
    assert error_of(excinfo) == ("MissingRenderingAttribute", 400)
    with pytest.raises(ClientError) as excinfo:
        ses.test_render_template(TemplateName="welcome", TemplateData="{not json")
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    with pytest.raises(ClientError) as excinfo:
        ses.create_template(Template={"TemplateName": "big", "HtmlPart": "x" * (500 * 1024 + 1)})
    assert error_of(excinfo) == ("InvalidTemplate", 400)


# --- bad input on the send paths: the caller's code, nothing sent ---------------------------
DEEP_DATA = '{"name": "x", "items": ' + "[" * 1000 + "]" * 1000 + "}"
SURROGATE_DATA = '{"name": "\\ud800", "items": []}'
V2_BAD_SENDS = {
    "unknown template": ({"Content": {"Template": {"TemplateName": "ghost", "TemplateData": DATA}}},
                         ("NotFoundException", 404)),
    "bad TemplateData JSON": ({"Content": {"Template": {"TemplateName": "welcome", "TemplateData": "{oops"}}},
                              ("BadRequestException", 400)),
    "TemplateData over 262144": ({"Content": {"Template": {"TemplateName": "welcome",
                                                           "TemplateData": json.dumps({"name": "x" * 262144})}}},
                                 ("BadRequestException", 400)),
    "rendering error": ({"Content": {"Template": {"TemplateContent": {"Text": "{{> nopartial}}"},
                                                  "TemplateData": "{}"}}}, ("BadRequestException", 400)),
    "unset variable": ({"Content": {"Template": {"TemplateName": "welcome", "TemplateData": "{}"}}},
                       ("BadRequestException", 400)),
    "inline template over 500 KB": ({"Content": {"Template": {"TemplateContent": {"Html": "x" * (500 * 1024 + 1)},
                                                              "TemplateData": "{}"}}}, ("BadRequestException", 400)),
    "unknown configuration set": ({"ConfigurationSetName": "ghost"}, ("NotFoundException", 404)),
    "invalid tag": ({"EmailTags": [{"Name": "bad name", "Value": "v"}]}, ("BadRequestException", 400)),
    # these three were 500s (RecursionError; NaN rendered "nan"; UnicodeEncodeError in TestRender)
    "TemplateData nested 1,000 deep": ({"Content": {"Template": {"TemplateName": "welcome",
                                                                 "TemplateData": DEEP_DATA}}},
                                       ("BadRequestException", 400)),
    "NaN in TemplateData": ({"Content": {"Template": {"TemplateName": "welcome",
                                                      "TemplateData": '{"name": NaN, "items": []}'}}},
                            ("BadRequestException", 400)),
    "lone surrogate in TemplateData": ({"Content": {"Template": {"TemplateName": "welcome",
                                                                 "TemplateData": SURROGATE_DATA}}},
                                       ("BadRequestException", 400)),
    "ARN of another service": ({"Content": {"Template": {"TemplateArn": "arn:aws:sns:us-east-1:000000000000:"
                                                                        "template/welcome", "TemplateData": DATA}}},
                               ("BadRequestException", 400)),
    "ARN of another partition": ({"Content": {"Template": {"TemplateArn": "arn:aws-cn:ses:us-east-1:000000000000:"
                                                                          "template/welcome", "TemplateData": DATA}}},
                                 ("BadRequestException", 400)),
}


@pytest.mark.parametrize("case", list(V2_BAD_SENDS))
def test_v2_bad_templated_sends_send_nothing(ready, control, case):
    overrides, expected = V2_BAD_SENDS[case]
    request = {"FromEmailAddress": SENDER, "Destination": TO,
               "Content": {"Template": {"TemplateName": "welcome", "TemplateData": DATA}}, **overrides}
    with pytest.raises(ClientError) as excinfo:
        ready.send_email(**request)
    assert error_of(excinfo) == expected
    assert outbox(control) == []


def test_an_inline_template_part_that_is_not_text_is_a_bad_request(ready, endpoint, control):
    """boto3 refuses it before sending; a raw client gets the AWS error, not a 5xx."""
    import urllib.error
    import urllib.request

    body = {"FromEmailAddress": SENDER, "Destination": TO,
            "Content": {"Template": {"TemplateContent": {"Subject": 5, "Text": "hi"}, "TemplateData": "{}"}}}
    request = urllib.request.Request(endpoint + "/v2/email/outbound-emails", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=30)
    assert (excinfo.value.code, excinfo.value.headers["x-amzn-ErrorType"]) == (400, "BadRequestException")
    assert outbox(control) == []


BULK_DEFAULT = {"Template": {"TemplateName": "welcome", "TemplateData": DATA}}
BULK_BAD = {
    "51 entries": ({"BulkEmailEntries": [{"Destination": TO}] * 51}, ("BadRequestException", 400)),
    "unknown template": ({"DefaultContent": {"Template": {"TemplateName": "ghost", "TemplateData": DATA}}},
                         ("NotFoundException", 404)),
    "bad entry data": ({"BulkEmailEntries": [{"Destination": TO}, {"Destination": TO, "ReplacementEmailContent": {
        "ReplacementTemplate": {"ReplacementTemplateData": "[1,"}}}]}, ("BadRequestException", 400)),
    "unknown configuration set": ({"ConfigurationSetName": "ghost"}, ("NotFoundException", 404)),
    "invalid replacement tag": ({"BulkEmailEntries": [{"Destination": TO, "ReplacementTags": [
        {"Name": "ok", "Value": "no spaces allowed"}]}]}, ("BadRequestException", 400)),
    "entry data nested 1,000 deep": ({"BulkEmailEntries": [{"Destination": TO, "ReplacementEmailContent": {
        "ReplacementTemplate": {"ReplacementTemplateData": DEEP_DATA}}}]}, ("BadRequestException", 400)),
}


@pytest.mark.parametrize("case", list(BULK_BAD))
def test_bad_bulk_calls_send_nothing(ready, control, case):
    overrides, expected = BULK_BAD[case]
    request = {"FromEmailAddress": SENDER, "DefaultContent": BULK_DEFAULT,
               "BulkEmailEntries": [{"Destination": TO}], **overrides}
    with pytest.raises(ClientError) as excinfo:
        ready.send_bulk_email(**request)
    assert error_of(excinfo) == expected
    assert outbox(control) == []


def test_bulk_headers_are_the_templates_with_each_entrys_replacements(ready, control):
    """The sesv2 model: a header the entry gives replaces the template's of that name (any
    case); the template's others are added to every message."""
    template = {**BULK_DEFAULT["Template"], "Headers": [{"Name": "X-Campaign", "Value": "spring"},
                                                        {"Name": "X-Tier", "Value": "standard"}]}
    answer = ready.send_bulk_email(FromEmailAddress=SENDER, DefaultContent={"Template": template}, BulkEmailEntries=[
        {"Destination": {"ToAddresses": ["a@example.org"]}},
        {"Destination": {"ToAddresses": ["b@example.org"]},
         "ReplacementHeaders": [{"Name": "x-tier", "Value": "gold"}, {"Name": "X-Entry", "Value": "2"}]}])
    ids = [result["MessageId"] for result in answer["BulkEmailEntryResults"]]
    headers = {}
    for message_id in ids:
        status, raw = _raw(control, message_id)
        assert status == 200
        head = raw.split("\r\n\r\n", 1)[0]
        headers[message_id] = [line for line in head.split("\r\n") if line.lower().startswith(("x-campaign", "x-tier",
                                                                                               "x-entry"))]
    assert headers[ids[0]] == ["X-Campaign: spring", "X-Tier: standard"]
    assert headers[ids[1]] == ["X-Campaign: spring", "x-tier: gold", "X-Entry: 2"]


def _raw(control, message_id: str) -> tuple[int, str]:
    import urllib.request

    with urllib.request.urlopen(f"{control.url}/_sim/outbox/{message_id}/raw", timeout=30) as response:
        return response.status, response.read().decode()


def test_a_bad_replacement_header_refuses_the_whole_bulk_call(ready, control):
    with pytest.raises(ClientError) as excinfo:
        ready.send_bulk_email(FromEmailAddress=SENDER, DefaultContent=BULK_DEFAULT, BulkEmailEntries=[
            {"Destination": TO},
            {"Destination": TO, "ReplacementHeaders": [{"Name": "X-Bad", "Value": "a\r\nBcc: victim@example.org"}]}])
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert outbox(control) == []


V1_BAD = {
    "unknown template": ({"Template": "ghost"}, "TemplateDoesNotExist"),
    "bad TemplateData JSON": ({"TemplateData": "nope"}, "InvalidParameterValue"),
    "unknown configuration set": ({"ConfigurationSetName": "ghost"}, "ConfigurationSetDoesNotExist"),
    "invalid tag": ({"Tags": [{"Name": "n", "Value": "v v"}]}, "InvalidParameterValue"),
    "unset variable": ({"TemplateData": "{}"}, "MissingRenderingAttribute"),
    "TemplateData nested 1,000 deep": ({"TemplateData": DEEP_DATA}, "InvalidParameterValue"),
    "lone surrogate in TemplateData": ({"TemplateData": SURROGATE_DATA}, "InvalidParameterValue"),
}


@pytest.mark.parametrize("data", [DEEP_DATA, SURROGATE_DATA, '{"name": Infinity}'])
def test_test_render_refuses_data_json_cannot_mean(ready, ses, data):
    """Both were 500s: a RecursionError, and a UnicodeEncodeError rendering the MIME."""
    with pytest.raises(ClientError) as excinfo:
        ready.test_render_email_template(TemplateName="welcome", TemplateData=data)
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert message(excinfo).startswith("TemplateData")
    with pytest.raises(ClientError) as excinfo:
        ses.test_render_template(TemplateName="welcome", TemplateData=data)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)


@pytest.mark.parametrize("case", list(V1_BAD))
def test_v1_bad_templated_sends_send_nothing(ready, ses, control, case):
    overrides, code = V1_BAD[case]
    with pytest.raises(ClientError) as excinfo:
        ses.send_templated_email(**{"Source": SENDER, "Destination": TO, "Template": "welcome",
                                    "TemplateData": DATA, **overrides})
    assert error_of(excinfo) == (code, 400)
    with pytest.raises(ClientError) as excinfo:
        ses.send_bulk_templated_email(**{"Source": SENDER, "Template": overrides.get("Template", "welcome"),
                                         "DefaultTemplateData": overrides.get("TemplateData", DATA),
                                         "Destinations": [{"Destination": TO, "ReplacementTags": overrides.get("Tags", [])}],
                                         **({"ConfigurationSetName": overrides["ConfigurationSetName"]}
                                            if "ConfigurationSetName" in overrides else {})})
    assert error_of(excinfo) == (code, 400)
    assert outbox(control) == []


def test_v1_more_than_50_bulk_destinations_is_refused(ready, ses, control):
    with pytest.raises(ClientError) as excinfo:
        ses.send_bulk_templated_email(Source=SENDER, Template="welcome", DefaultTemplateData=DATA,
                                      Destinations=[{"Destination": TO}] * 51)
    assert error_of(excinfo) == ("InvalidParameterValue", 400)
    assert outbox(control) == []


# --- configuration sets ------------------------------------------------------------------
@pytest.mark.parametrize("client_name", ["sesv2", "pinpoint"])
def test_rest_json_configuration_set_lifecycle(request, client_name):
    client = request.getfixturevalue(client_name)
    client.create_configuration_set(ConfigurationSetName="marketing", Tags=[{"Key": "k", "Value": "v"}])
    client.create_configuration_set(ConfigurationSetName="alerts")
    got = client.get_configuration_set(ConfigurationSetName="marketing")
    assert (got["ConfigurationSetName"], got["Tags"]) == ("marketing", [{"Key": "k", "Value": "v"}])
    assert client.list_configuration_sets()["ConfigurationSets"] == ["alerts", "marketing"]
    page = client.list_configuration_sets(PageSize=1)
    assert page["ConfigurationSets"] == ["alerts"]
    assert client.list_configuration_sets(NextToken=page["NextToken"])["ConfigurationSets"] == ["marketing"]
    with pytest.raises(ClientError) as excinfo:
        client.create_configuration_set(ConfigurationSetName="alerts")
    assert error_of(excinfo) == ("AlreadyExistsException", 400)
    client.delete_configuration_set(ConfigurationSetName="alerts")
    for call in (client.get_configuration_set, client.delete_configuration_set):
        with pytest.raises(ClientError) as excinfo:
            call(ConfigurationSetName="alerts")
        assert error_of(excinfo) == ("NotFoundException", 404)


def test_v1_configuration_set_lifecycle_shares_state(ses, sesv2):
    ses.create_configuration_set(ConfigurationSet={"Name": "marketing"})
    assert ses.describe_configuration_set(ConfigurationSetName="marketing")["ConfigurationSet"] == {"Name": "marketing"}
    assert sesv2.list_configuration_sets()["ConfigurationSets"] == ["marketing"]
    assert ses.list_configuration_sets()["ConfigurationSets"] == [{"Name": "marketing"}]
    with pytest.raises(ClientError) as excinfo:
        ses.create_configuration_set(ConfigurationSet={"Name": "marketing"})
    assert error_of(excinfo) == ("ConfigurationSetAlreadyExists", 400)
    ses.delete_configuration_set(ConfigurationSetName="marketing")
    for call in (ses.describe_configuration_set, ses.delete_configuration_set):
        with pytest.raises(ClientError) as excinfo:
            call(ConfigurationSetName="marketing")
        assert error_of(excinfo) == ("ConfigurationSetDoesNotExist", 400)


def test_the_outbox_records_the_configuration_set_and_the_path(ready, ses, pinpoint, control):
    ready.create_configuration_set(ConfigurationSetName="marketing")
    ready.send_email(FromEmailAddress=SENDER, Destination=TO, ConfigurationSetName="marketing",
                     EmailTags=[{"Name": "campaign", "Value": "spring-2024"}],
                     Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
    ses.send_email(Source=SENDER, Destination=TO, ConfigurationSetName="marketing",
                   Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}})
    pinpoint.send_email(FromEmailAddress=SENDER, Destination=TO,
                        Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
    assert [(e["via"], e["configuration_set"], e["template"]) for e in outbox(control)] == [
        ("api-pinpoint", None, None), ("api-v1", "marketing", None), ("api-v2", "marketing", None)]


def test_create_email_identity_naming_an_unknown_set_creates_nothing(sesv2):
    with pytest.raises(ClientError) as excinfo:
        sesv2.create_email_identity(EmailIdentity="example.com", ConfigurationSetName="ghost")
    assert error_of(excinfo) == ("NotFoundException", 404)
    assert sesv2.list_email_identities()["EmailIdentities"] == []
    sesv2.create_configuration_set(ConfigurationSetName="real")
    sesv2.create_email_identity(EmailIdentity="example.com", ConfigurationSetName="real")


# --- tags ----------------------------------------------------------------------------------
def test_identity_tags_are_stored_and_returned(sesv2, pinpoint):
    tags = [{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "mail"}]
    sesv2.create_email_identity(EmailIdentity="example.com", Tags=tags)
    assert sesv2.get_email_identity(EmailIdentity="example.com")["Tags"] == tags
    assert pinpoint.get_email_identity(EmailIdentity="example.com")["Tags"] == tags
    sesv2.delete_email_identity(EmailIdentity="example.com")
    sesv2.create_email_identity(EmailIdentity="example.com")
    assert sesv2.get_email_identity(EmailIdentity="example.com")["Tags"] == []


def test_invalid_identity_tags_create_nothing(sesv2):
    with pytest.raises(ClientError) as excinfo:
        sesv2.create_email_identity(EmailIdentity="example.com", Tags=[{"Key": "", "Value": "v"}])
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert message(excinfo) == "The tag name must be specified."
    assert sesv2.list_email_identities()["EmailIdentities"] == []


@pytest.mark.parametrize("tags, expected", [
    ([{"Key": f"k{i}", "Value": "v"} for i in range(51)], "A resource can have at most 50 tags; 51 were given."),
    ([{"Key": "env", "Value": "prod"}, {"Key": "env", "Value": "test"}],
     "Tag keys must be unique: env is given more than once."),
])
def test_resource_tags_follow_the_models_count_and_key_rules(sesv2, ses, tags, expected):
    """The Tag shape: at most 50 tags a resource, each key once -- on identities, templates
    and configuration sets alike, and nothing is created."""
    calls = [lambda: sesv2.create_email_identity(EmailIdentity="example.com", Tags=tags),
             lambda: sesv2.create_email_template(TemplateName="t", TemplateContent={"Text": "x"}, Tags=tags),
             lambda: sesv2.create_configuration_set(ConfigurationSetName="cs", Tags=tags)]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert (error_of(excinfo), message(excinfo)) == (("BadRequestException", 400), expected)
    assert sesv2.list_email_identities()["EmailIdentities"] == []
    assert sesv2.list_email_templates()["TemplatesMetadata"] == []
    assert sesv2.list_configuration_sets()["ConfigurationSets"] == []
    sesv2.create_email_identity(EmailIdentity="example.com", Tags=tags[:50] if len(tags) > 2 else tags[:1])


@pytest.mark.parametrize("name", ["a b", "x" * 65, "ünï"])
def test_a_bad_configuration_set_name_is_the_models_error_on_each_api(sesv2, pinpoint, ses, name):
    for call, expected in (
            (lambda: sesv2.create_configuration_set(ConfigurationSetName=name), "BadRequestException"),
            (lambda: pinpoint.create_configuration_set(ConfigurationSetName=name), "BadRequestException"),
            (lambda: ses.create_configuration_set(ConfigurationSet={"Name": name}), "InvalidConfigurationSet")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == (expected, 400)
    assert ses.list_configuration_sets()["ConfigurationSets"] == []


@pytest.mark.parametrize("name", [5, ["welcome"], {"n": 1}, True])
def test_a_name_that_is_not_text_is_a_bad_request_not_a_missing_template(ready, endpoint, control, name):
    """boto3 refuses these before sending; a raw client gets a 400, not 'does not exist'."""
    import urllib.error
    import urllib.request

    body = {"FromEmailAddress": SENDER, "Destination": TO,
            "Content": {"Template": {"TemplateName": name, "TemplateData": DATA}}}
    request = urllib.request.Request(endpoint + "/v2/email/outbound-emails", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=30)
    assert (excinfo.value.code, excinfo.value.headers["x-amzn-ErrorType"]) == (400, "BadRequestException")
    assert outbox(control) == []


@pytest.mark.parametrize("token", ["garbage", "@@@", "!!!", "é", "d2VsY29tZQ"])
def test_a_next_token_this_simulator_did_not_hand_out_is_refused_on_every_list(ready, pinpoint, ses, token):
    """Base64 decoding skips characters outside its alphabet, so "@@@" used to give the first
    page; now any token that is not exactly one handed out is the API's bad-token error."""
    for call, expected in (
            # sesv2 defines InvalidNextTokenException, but these operations' errors do not list it
            (lambda: ready.list_email_templates(NextToken=token), "BadRequestException"),
            (lambda: ready.list_configuration_sets(NextToken=token), "BadRequestException"),
            (lambda: pinpoint.list_configuration_sets(NextToken=token), "BadRequestException"),
            (lambda: ses.list_templates(NextToken=token), "InvalidParameterValue"),
            (lambda: ses.list_configuration_sets(NextToken=token), "InvalidParameterValue")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == (expected, 400), token
    ready.create_email_template(TemplateName="zzz", TemplateContent={"Text": "x"})
    first = ready.list_email_templates(PageSize=1)  # a token handed out still works
    assert ready.list_email_templates(PageSize=1, NextToken=first["NextToken"])["TemplatesMetadata"][0][
        "TemplateName"] == "zzz"


def test_a_next_token_of_one_list_is_refused_by_another(ready, ses):
    ready.create_email_template(TemplateName="zzz", TemplateContent={"Text": "x"})
    token = ready.list_email_templates(PageSize=1)["NextToken"]
    for call, expected in (
            (lambda: ready.list_configuration_sets(NextToken=token), "BadRequestException"),
            (lambda: ready.list_email_identities(NextToken=token), "BadRequestException"),
            (lambda: ses.list_identities(NextToken=token), "InvalidParameterValue")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == (expected, 400)
    assert ses.list_templates(NextToken=token)["TemplatesMetadata"][0]["Name"] == "zzz"  # v1 shares the list


def test_test_render_keeps_crlf_on_both_apis(ready, ses):
    """The rendered MIME's line ends reach the v1 client as CRLF too: a literal CR in XML
    text is read back as LF, so it goes out as a character reference."""
    v2 = ready.test_render_email_template(TemplateName="welcome", TemplateData=DATA)["RenderedTemplate"]
    v1 = ses.test_render_template(TemplateName="welcome", TemplateData=DATA)["RenderedTemplate"]
    for rendered in (v2, v1):
        assert rendered.startswith("Subject: Hi Ada\r\n") and "\n" not in rendered.replace("\r\n", "")


def test_each_blocks_are_bounded_by_a_work_budget(sesv2, ses):
    """Nested loops multiply: a list iterated inside itself is n² iterations (4,000 items took
    16 s and 17 MB). A render may make 100,000; past that it is a rendering error."""
    sesv2.create_email_template(TemplateName="square", TemplateContent={
        "Subject": "s", "Text": "{{#each a}}{{#each ../a}}x{{/each}}{{/each}}"})
    rendered = sesv2.test_render_email_template(TemplateName="square",
                                                TemplateData=json.dumps({"a": list(range(300))}))
    body = rendered["RenderedTemplate"].split("\r\n\r\n", 1)[1]
    assert body.count("x") == 90_000  # 300 + 90,000 iterations: within the budget
    for client, call, expected in (
            (sesv2, "test_render_email_template", "BadRequestException"),
            (ses, "test_render_template", "InvalidTemplate")):
        with pytest.raises(ClientError) as excinfo:
            getattr(client, call)(TemplateName="square", TemplateData=json.dumps({"a": list(range(4000))}))
        assert error_of(excinfo) == (expected, 400)
        assert "its blocks would run more than 100,000 times" in message(excinfo)


@pytest.mark.parametrize("text, data, problem", [
    # A plain section over a list, nested through {{#with @root}}: 200³ bodies (9 s before).
    ("{{#a}}{{#with @root}}{{#a}}{{#with @root}}{{#a}}x{{/a}}{{/with}}{{/a}}{{/with}}{{/a}}",
     {"a": list(range(200))}, "its blocks would run more than 100,000 times"),
    ("{{#a}}x{{/a}}", {"a": [0] * 120_000}, "its blocks would run more than 100,000 times"),
    # Few bodies, each putting out a large value: 1,000 × 250,000 characters.
    ("{{#each a}}{{{../b}}}{{/each}}", {"a": list(range(1000)), "b": "y" * 250_000},
     "it would put out more than 41,943,040 characters"),
    # No block at all: the same large value 200 times.
    ("{{{b}}}" * 200, {"b": "y" * 250_000}, "it would put out more than 41,943,040 characters"),
])
def test_every_block_and_value_counts_against_the_budget(sesv2, ses, text, data, problem):
    content = {"Subject": "s", "Text": text}
    sesv2.create_email_template(TemplateName="heavy", TemplateContent=content)
    for client, call, expected in (
            (sesv2, "test_render_email_template", "BadRequestException"),
            (ses, "test_render_template", "InvalidTemplate")):
        with pytest.raises(ClientError) as excinfo:
            getattr(client, call)(TemplateName="heavy", TemplateData=json.dumps(data, separators=(",", ":")))
        assert error_of(excinfo) == (expected, 400)
        assert problem in message(excinfo)


def test_a_helper_given_nothing_is_a_rendering_error_in_plain_words(sesv2):
    sesv2.create_email_template(TemplateName="bare", TemplateContent={"Subject": "s", "Text": "{{#if}}x{{/if}}"})
    with pytest.raises(ClientError) as excinfo:
        sesv2.test_render_email_template(TemplateName="bare", TemplateData="{}")
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert message(excinfo) == ("The template could not be rendered: a helper was given the wrong number or kind "
                                "of arguments.")


def test_a_slow_compile_holds_up_no_other_template_request(sesv2):
    """pybars compiles ~2,000 expressions a second, so a large template takes seconds; a
    second compile gets a compiler of its own instead of waiting for the first."""
    import threading
    import time

    from simulator.mail import templates

    def compiling() -> bool:  # the session's simulator runs in this process: a compiler is out
        return templates._compilers_made > len(templates._idle_compilers)

    big = threading.Thread(target=lambda: sesv2.create_email_template(
        TemplateName="big", TemplateContent={"Subject": "s", "Text": "{{a}} " * 8000}))
    big.start()
    try:
        while not compiling() and big.is_alive():
            time.sleep(0.005)  # poll until the big compile has begun: an observed state, not a guessed delay
        sesv2.create_email_template(TemplateName="small", TemplateContent={"Subject": "s",
                                                                           "Text": "{{small_only_here}}"})
        assert big.is_alive()  # the small one was answered while the big one still compiles
    finally:
        big.join()
    assert {t["TemplateName"] for t in sesv2.list_email_templates()["TemplatesMetadata"]} == {"big", "small"}
