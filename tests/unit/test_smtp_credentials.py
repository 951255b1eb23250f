"""SES SMTP password derivation against AWS's published script, and the credentials file."""
import json

import pytest

from simulator.credentials import DEFAULT_ACCOUNT, account_for_access_key, load_credentials
from simulator.smtp.credentials import password_matches, smtp_password

# AWS's documented example key pair, and what AWS's published script (SES Developer Guide,
# "Obtaining Amazon SES SMTP credentials", Python example `calculate_key(secret, region)`)
# prints for it in each region.
EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PUBLISHED = {"us-east-1": "BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9",
             "eu-west-1": "BMW5RDrXmmVs0lV7GpI4oLkHXpZ4stDsk6q91z1g38Pk"}


@pytest.mark.parametrize("region", sorted(PUBLISHED))
def test_the_derivation_reproduces_aws_published_script(region):
    assert smtp_password(EXAMPLE_SECRET, region) == PUBLISHED[region]
    assert password_matches(EXAMPLE_SECRET, region, PUBLISHED[region])


def test_a_password_is_bound_to_its_region_and_secret():
    assert not password_matches(EXAMPLE_SECRET, "eu-west-1", PUBLISHED["us-east-1"])
    assert not password_matches(EXAMPLE_SECRET + "x", "us-east-1", PUBLISHED["us-east-1"])
    assert not password_matches(EXAMPLE_SECRET, "us-east-1", "")


@pytest.mark.parametrize("key, account", [
    ("123456789012", "123456789012"), ("AKIAIOSFODNN7EXAMPLE", DEFAULT_ACCOUNT),
    ("12345678901", DEFAULT_ACCOUNT), ("", DEFAULT_ACCOUNT), ("１２３４５６７８９０１２", DEFAULT_ACCOUNT)])
def test_the_account_of_an_access_key(key, account):
    assert account_for_access_key(key) == account


def test_a_credentials_file_is_read(tmp_path):
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({EXAMPLE_KEY_ID: {"secret": EXAMPLE_SECRET, "account": "111122223333"},
                                "123456789012": {"secret": "s", "account": "444455556666"}}))
    credentials = load_credentials(str(path))
    assert credentials[EXAMPLE_KEY_ID].account == "111122223333"
    assert credentials["123456789012"].account == "444455556666"  # in strict mode the file says, not the key


@pytest.mark.parametrize("content, reason", [
    ("not json", "not valid JSON"),
    ("[]", "must be a JSON object"),
    ("{}", "must be a JSON object"),
    ('{"K": "secret"}', 'needs a non-empty string "secret"'),
    ('{"K": {"account": "111122223333"}}', 'needs a non-empty string "secret"'),
    ('{"K": {"secret": "s", "account": "12"}}', 'needs an "account" of 12 digits'),
])
def test_a_bad_credentials_file_says_why(tmp_path, content, reason):
    path = tmp_path / "credentials.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        load_credentials(str(path))
