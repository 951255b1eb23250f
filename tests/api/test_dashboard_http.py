"""The dashboard over plain HTTP (no browser needed): who is sent there, and what it renders."""
import json
import urllib.error
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, accept: str | None = None):
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_a_browser_at_the_root_url_is_sent_to_the_dashboard(endpoint):
    status, headers, _ = get(endpoint + "/", "text/html,application/xhtml+xml,*/*;q=0.8")
    assert status == 302 and headers["Location"].endswith("/_sim/dashboard")


def test_aws_clients_and_scripts_at_the_root_url_still_get_the_query_api(endpoint):
    for accept in (None, "*/*", "application/xml"):
        status, headers, body = get(endpoint + "/", accept)
        assert status == 400 and "<Code>MissingAction</Code>" in body, accept
    status, _, body = get(endpoint + "/?Action=ListIdentities&Version=2010-12-01", "text/html")
    assert status == 200 and "ListIdentitiesResponse" in body


def test_the_page_renders_identities_records_and_the_outbox(endpoint, sesv2, control):
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    status, headers, page = get(endpoint + "/_sim/dashboard?identity=example.com")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert 'data-identity="example.com"' in page and 'data-status="PENDING"' in page
    assert 'data-value="10 feedback-smtp.us-east-1.amazonses.com."' in page  # the MX to publish
    assert 'class="node status-PENDING current"' in page
    status, _, answer = get(endpoint + "/_sim/dashboard/fragments?parts=identities,outbox,bogus&identity=example.com")
    fragments = json.loads(answer)["data"]
    assert status == 200 and sorted(fragments) == ["identities", "outbox"]
    status, _, script = get(endpoint + "/_sim/dashboard/static/dashboard.js")
    assert status == 200 and "EventSource" in script and "https://" not in script  # nothing from the internet
