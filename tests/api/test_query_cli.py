"""The real AWS CLI (`aws ses ...`) against the live simulator: the v1 query API as
an unmodified client other than boto3 speaks it."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

AWS = Path(sys.executable).parent / "aws"

pytestmark = pytest.mark.skipif(not AWS.exists(), reason="the aws CLI is not installed next to the interpreter")


@pytest.fixture
def aws(endpoint, tmp_path):
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
           "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1", "HOME": str(tmp_path)}
    env.pop("AWS_PROFILE", None)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(AWS), "ses", *args, "--endpoint-url", endpoint, "--region", "us-east-1", "--output", "json"],
            capture_output=True, text=True, env=env, timeout=60)
    return run


def test_the_cli_verifies_sets_and_reads_a_mail_from_domain(aws, sesv2):
    verified = aws("verify-domain-identity", "--domain", "example.com")
    assert verified.returncode == 0, verified.stderr
    assert len(json.loads(verified.stdout)["VerificationToken"]) == 44

    put = aws("set-identity-mail-from-domain", "--identity", "example.com",
              "--mail-from-domain", "mail.example.com", "--behavior-on-mx-failure", "RejectMessage")
    assert put.returncode == 0, put.stderr

    read = aws("get-identity-mail-from-domain-attributes", "--identities", "example.com", "nobody.example")
    assert read.returncode == 0, read.stderr
    assert json.loads(read.stdout) == {"MailFromDomainAttributes": {"example.com": {
        "MailFromDomain": "mail.example.com", "MailFromDomainStatus": "Pending",
        "BehaviorOnMXFailure": "RejectMessage"}}}
    assert sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"]["MailFromDomainStatus"] \
        == "PENDING"


def test_the_cli_reports_a_refused_set_as_the_query_error(aws, ses):
    refused = aws("set-identity-mail-from-domain", "--identity", "nobody.example",
                  "--mail-from-domain", "mail.nobody.example")
    assert refused.returncode != 0
    assert "InvalidParameterValue" in refused.stderr and "Identity <nobody.example> does not exist." in refused.stderr
    assert ses.list_identities()["Identities"] == []
