"""SPEC §3 validation and the Put rules of §4, pure."""
import pytest

from simulator.core import rules
from simulator.core.errors import BadRequestException
from simulator.core.model import (
    BehaviorOnMxFailure as B, Identity, IdentityType, MailFromStatus as S, Settings,
    VerificationStatus,
)

SETTINGS = Settings(check_interval=60, pending_timeout=3600)


def identity(name="example.com", type_=IdentityType.DOMAIN, mail_from=None, behavior=B.USE_DEFAULT_VALUE):
    return Identity("000000000000", "us-east-1", name, type_, VerificationStatus.SUCCESS, 0.0, (), behavior, mail_from)


@pytest.mark.parametrize("domain", ["mail.example.com", "MAIL.Example.COM.", "a.b.example.com"])
def test_a_strict_subdomain_is_accepted_and_stored_lower_case(domain):
    assert rules.validate_mail_from_domain(identity(), domain) == domain.lower().rstrip(".")


@pytest.mark.parametrize("domain", ["example.com", "evilexample.com", "other.com", "mail.example.org",
                                    "example.com.evil.org", "com", "COM."])
def test_anything_but_a_strict_subdomain_is_refused_on_label_boundaries(domain):
    normalised = domain.lower().rstrip(".")
    with pytest.raises(BadRequestException) as excinfo:
        rules.validate_mail_from_domain(identity(), domain)
    assert excinfo.value.message == (f"Provided MAIL-FROM domain '{normalised}' is not subdomain of the domain "
                                     "of the identity 'example.com'.")  # SPEC §3, to the letter


@pytest.mark.parametrize("domain", ["mail..example.com", "-mail.example.com", "mail-.example.com",
                                    "a" * 64 + ".example.com", ("a" * 60 + ".") * 5 + "example.com",
                                    "ma il.example.com", "mail_x.example.com", "1.2.3.4", "mäil.example.com", "."])
def test_invalid_host_names_are_refused(domain):
    with pytest.raises(BadRequestException):
        rules.validate_mail_from_domain(identity(), domain)


def test_an_email_identity_needs_a_subdomain_of_its_address_domain():
    email = identity("user@example.com", IdentityType.EMAIL_ADDRESS)
    assert rules.validate_mail_from_domain(email, "bounce.example.com") == "bounce.example.com"
    with pytest.raises(BadRequestException):
        rules.validate_mail_from_domain(email, "example.com")


@pytest.mark.parametrize("raw, expected", [
    ("Example.COM", ("example.com", IdentityType.DOMAIN)),
    ("User@Example.com", ("User@example.com", IdentityType.EMAIL_ADDRESS)),
])
def test_identity_names_are_normalised(raw, expected):
    assert rules.validate_identity_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "a/b.com", "a%2Fb.com", "exämple.com", "@example.com", "user@", "localhost",
                                 "us er@example.com"])
def test_bad_identity_names_are_refused(raw):
    with pytest.raises(BadRequestException):
        rules.validate_identity_name(raw)


def test_behavior_spellings_belong_to_their_api():
    assert rules.parse_behavior("REJECT_MESSAGE") is B.REJECT_MESSAGE
    assert rules.parse_behavior("RejectMessage", "v1") is B.REJECT_MESSAGE
    with pytest.raises(BadRequestException, match=r"enum value set: \[REJECT_MESSAGE, USE_DEFAULT_VALUE\]"):
        rules.parse_behavior("RejectMessage")
    with pytest.raises(BadRequestException, match="UseDefaultValue, RejectMessage"):
        rules.parse_behavior("REJECT_MESSAGE", "v1")


def test_put_then_same_domain_changes_only_the_behavior():
    first, entries = rules.apply_put(identity(), "mail.example.com", B.USE_DEFAULT_VALUE, 100.0, SETTINGS)
    assert first.mail_from.status is S.PENDING and len(entries) == 1
    second, entries = rules.apply_put(first, "MAIL.example.com", B.REJECT_MESSAGE, 200.0, SETTINGS)
    assert second.mail_from == first.mail_from and second.behavior is B.REJECT_MESSAGE and entries == []


def test_put_with_another_domain_restarts_with_a_new_deadline():
    first, _ = rules.apply_put(identity(), "mail.example.com", B.USE_DEFAULT_VALUE, 100.0, SETTINGS)
    second, entries = rules.apply_put(first, "bounce.example.com", B.USE_DEFAULT_VALUE, 500.0, SETTINGS)
    assert (second.mail_from.domain, second.mail_from.deadline) == ("bounce.example.com", 4100.0)
    assert entries[0].event == "PUT"


def test_put_without_a_domain_removes_the_configuration_and_keeps_the_behavior():
    first, _ = rules.apply_put(identity(), "mail.example.com", B.USE_DEFAULT_VALUE, 100.0, SETTINGS)
    cleared, entries = rules.apply_put(first, None, B.REJECT_MESSAGE, 200.0, SETTINGS)
    assert cleared.mail_from is None and cleared.behavior is B.REJECT_MESSAGE
    assert (entries[0].from_status, entries[0].to_status) == (S.PENDING, None)


def test_the_verification_token_is_stable_per_identity_and_differs_between_identities():
    token = rules.verification_token(identity())
    assert token == rules.verification_token(identity()) and len(token) == 44
    assert token != rules.verification_token(identity("example.org"))
