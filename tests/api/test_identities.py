"""Identities through real boto3 sesv2 and pinpoint-email clients against the live server."""
import pytest
from botocore.exceptions import ClientError


def error_of(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_created_domain_identity_is_verified_with_its_own_dkim_tokens(sesv2):
    first = sesv2.create_email_identity(EmailIdentity="example.com")
    second = sesv2.create_email_identity(EmailIdentity="example.org")
    assert first["IdentityType"] == "DOMAIN" and first["VerifiedForSendingStatus"] is True
    assert len(first["DkimAttributes"]["Tokens"]) == 3
    assert set(first["DkimAttributes"]["Tokens"]).isdisjoint(second["DkimAttributes"]["Tokens"])


def test_an_identity_without_mail_from_reports_only_the_behavior(sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    identity = sesv2.get_email_identity(EmailIdentity="example.com")
    assert identity["MailFromAttributes"] == {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
    assert identity["VerificationStatus"] == "SUCCESS"


def test_an_email_address_identity_is_created(sesv2):
    created = sesv2.create_email_identity(EmailIdentity="sender@example.com")
    assert created["IdentityType"] == "EMAIL_ADDRESS"
    assert sesv2.get_email_identity(EmailIdentity="sender@example.com")["IdentityType"] == "EMAIL_ADDRESS"


def test_creating_an_identity_twice_is_already_exists(sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    with pytest.raises(ClientError) as excinfo:
        sesv2.create_email_identity(EmailIdentity="EXAMPLE.com")
    assert error_of(excinfo) == ("AlreadyExistsException", 400)


@pytest.mark.parametrize("name", ["a/b.example.com", "a%2Fb.example.com", "exämple.com", "not a domain", "localhost"])
def test_bad_identity_names_are_refused_and_nothing_is_stored(sesv2, name):
    with pytest.raises(ClientError) as excinfo:
        sesv2.create_email_identity(EmailIdentity=name)
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert sesv2.list_email_identities()["EmailIdentities"] == []


@pytest.mark.parametrize("name", ["nobody.example", "a/b", "üñí.com"])
def test_getting_an_unknown_identity_is_not_found(sesv2, name):
    with pytest.raises(ClientError) as excinfo:
        sesv2.get_email_identity(EmailIdentity=name)
    assert error_of(excinfo) == ("NotFoundException", 404)


def test_list_pages_with_page_size_and_next_token(sesv2):
    names = [f"d{i}.example.com" for i in range(5)]
    for name in names:
        sesv2.create_email_identity(EmailIdentity=name)
    seen, token = [], None
    while True:
        page = sesv2.list_email_identities(PageSize=2, **({"NextToken": token} if token else {}))
        assert len(page["EmailIdentities"]) <= 2
        seen += [i["IdentityName"] for i in page["EmailIdentities"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names


def test_the_pinpoint_list_route_is_a_get(pinpoint):
    pinpoint.create_email_identity(EmailIdentity="example.com")
    assert [i["IdentityName"] for i in pinpoint.list_email_identities(PageSize=10)["EmailIdentities"]] == ["example.com"]


def test_list_items_carry_only_their_models_members(sesv2, pinpoint):
    sesv2.create_email_identity(EmailIdentity="example.com")
    (v2_item,) = sesv2.list_email_identities()["EmailIdentities"]
    (pinpoint_item,) = pinpoint.list_email_identities()["EmailIdentities"]
    assert set(v2_item) == {"IdentityType", "IdentityName", "SendingEnabled", "VerificationStatus"}
    assert set(pinpoint_item) == {"IdentityType", "IdentityName", "SendingEnabled"}  # Pinpoint's IdentityInfo


@pytest.mark.parametrize("page_size", [-1, 1001])
def test_a_page_size_outside_the_models_range_is_a_bad_request(sesv2, page_size):
    with pytest.raises(ClientError) as excinfo:
        sesv2.list_email_identities(PageSize=page_size)
    assert error_of(excinfo) == ("BadRequestException", 400)


@pytest.mark.parametrize("client", ["sesv2", "pinpoint"])
def test_a_page_size_of_zero_the_models_allow_is_the_default_page(request, client):
    api = request.getfixturevalue(client)
    for i in range(3):
        api.create_email_identity(EmailIdentity=f"d{i}.example.com")
    page = api.list_email_identities(PageSize=0)
    assert [i["IdentityName"] for i in page["EmailIdentities"]] == [f"d{i}.example.com" for i in range(3)]
    assert "NextToken" not in page


def test_deleting_removes_the_identity_and_its_configuration(sesv2):
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    sesv2.delete_email_identity(EmailIdentity="example.com")
    with pytest.raises(ClientError) as excinfo:
        sesv2.delete_email_identity(EmailIdentity="example.com")
    assert error_of(excinfo) == ("NotFoundException", 404)


def test_identities_are_isolated_by_region_and_account(client_for):
    client_for("sesv2").create_email_identity(EmailIdentity="example.com")
    for other in (client_for("sesv2", region="eu-west-1"), client_for("sesv2", account="123456789012")):
        assert other.list_email_identities()["EmailIdentities"] == []
        with pytest.raises(ClientError):
            other.get_email_identity(EmailIdentity="example.com")


def test_get_account_reports_the_quota(sesv2):
    account = sesv2.get_account()
    assert account["SendQuota"]["Max24HourSend"] > 0 and account["SendingEnabled"] is True
    assert account["ProductionAccessEnabled"] is True


def test_get_email_identity_answers_follow_every_change_and_each_protocol(sesv2, pinpoint):
    """The answer kept per stored Identity object (rest_json.get_email_identity) is never stale."""
    sesv2.create_email_identity(EmailIdentity="example.com")
    first = sesv2.get_email_identity(EmailIdentity="example.com")
    assert sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"] == first["MailFromAttributes"]
    assert "CurrentSigningKeyLength" not in pinpoint.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    assert sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"]["MailFromDomain"] == \
        "mail.example.com"
    sesv2.put_email_identity_dkim_attributes(EmailIdentity="example.com", SigningEnabled=False)
    assert sesv2.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]["SigningEnabled"] is False
    assert "CurrentSigningKeyLength" in sesv2.get_email_identity(EmailIdentity="example.com")["DkimAttributes"]



def _byodkim_key(bits: int) -> str:
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    return base64.b64encode(der).decode()


def test_byodkim_attributes_are_checked_then_easy_dkim_signs(sesv2):
    """BYODKIM is not simulated: a well-formed key is taken (the identity keeps Easy DKIM),
    a bad one is refused and creates nothing."""
    created = sesv2.create_email_identity(EmailIdentity="example.com", DkimSigningAttributes={
        "DomainSigningSelector": "sel1", "DomainSigningPrivateKey": _byodkim_key(1024)})
    assert created["DkimAttributes"]["SigningAttributesOrigin"] == "AWS_SES"
    for attributes, problem in (
            ({"DomainSigningSelector": "sel1", "DomainSigningPrivateKey": "bad!!"}, "DomainSigningPrivateKey"),
            ({"DomainSigningSelector": "sel1", "DomainSigningPrivateKey": "aGVsbG8="}, "DomainSigningPrivateKey"),
            ({"DomainSigningSelector": "-sel", "DomainSigningPrivateKey": _byodkim_key(1024)}, "DomainSigningSelector")):
        with pytest.raises(ClientError) as excinfo:
            sesv2.create_email_identity(EmailIdentity="example.org", DkimSigningAttributes=attributes)
        assert error_of(excinfo) == ("BadRequestException", 400)
        assert problem in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as excinfo:
        sesv2.create_email_identity(EmailIdentity="ada@example.org", DkimSigningAttributes={
            "DomainSigningSelector": "sel1", "DomainSigningPrivateKey": _byodkim_key(1024)})
    assert error_of(excinfo) == ("BadRequestException", 400)
    assert [i["IdentityName"] for i in sesv2.list_email_identities()["EmailIdentities"]] == ["example.com"]



@pytest.mark.parametrize("path", ["/v2/email/list-identities", "/v2/email/list-configuration-sets"])
def test_a_page_size_in_a_json_body_must_be_a_number(endpoint, path):
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(endpoint + path, data=json.dumps({"PageSize": "5"}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request, timeout=30)
    assert (excinfo.value.code, excinfo.value.headers["x-amzn-ErrorType"]) == (400, "BadRequestException")
