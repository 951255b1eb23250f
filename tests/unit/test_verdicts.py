"""The DNS verdicts of SPEC §4 from facts alone: no DNS, no sockets. What the
lookup adapter reports (DnsFacts) goes in, the MxLookup the state machine acts
on comes out."""
import pytest

from simulator.core.model import DnsFacts, DnsStatus, LookupOutcome, MxLookup
from simulator.core.verdicts import (
    SPF_RECORD,
    feedback_host,
    mx_verdict,
    records_to_publish,
    spf_advice,
    wants_spf,
)

FOUND, MISSING, TRANSIENT = LookupOutcome.FOUND, LookupOutcome.MISSING, LookupOutcome.TRANSIENT
FEEDBACK = "feedback-smtp.us-east-1.amazonses.com."
NAME = "mail.example.com"


def mx(*records, name=NAME):
    return DnsFacts(name, "MX", DnsStatus.ANSWER, mx=tuple(sorted(records)))


def failure(status, error="what went wrong"):
    return DnsFacts(NAME, "MX", status, error=error)


def test_one_mx_at_the_regions_feedback_host_is_found():
    assert mx_verdict(mx((10, FEEDBACK)), "us-east-1") == MxLookup(FOUND, (f"10 {FEEDBACK}",), None, None)


def test_the_region_is_read_without_case_or_blanks():
    assert mx_verdict(mx((0, "feedback-smtp.eu-west-1.amazonses.com.")), " EU-West-1 ").outcome is FOUND


def test_the_feedback_host_of_another_region_is_missing():
    result = mx_verdict(mx((10, "feedback-smtp.eu-west-1.amazonses.com.")), "us-east-1")

    assert result.outcome is MISSING
    assert result.error == "MX points to feedback-smtp.eu-west-1.amazonses.com., expected feedback-smtp.us-east-1.amazonses.com"


def test_two_mx_are_missing_even_if_one_is_right():
    result = mx_verdict(mx((10, FEEDBACK), (20, "mx.other.com.")), "us-east-1")

    assert result == MxLookup(MISSING, (f"10 {FEEDBACK}", "20 mx.other.com."), "2 MX records; exactly one is required")


def test_a_null_mx_is_missing():
    assert mx_verdict(mx((0, ".")), "us-east-1") == MxLookup(MISSING, ("0 .",), "MX points to ., expected feedback-smtp.us-east-1.amazonses.com")


def test_nxdomain_is_missing_and_names_the_alias_that_led_there():
    plain = DnsFacts(NAME, "MX", DnsStatus.NXDOMAIN)
    alias = DnsFacts(NAME, "MX", DnsStatus.NXDOMAIN, canonical="gone.example.net")

    assert mx_verdict(plain, "us-east-1") == MxLookup(MISSING, (), "NXDOMAIN: mail.example.com does not exist")
    assert mx_verdict(alias, "us-east-1").error == \
        "NXDOMAIN: mail.example.com is an alias of gone.example.net, which does not exist"


def test_no_mx_at_an_existing_name_is_missing():
    result = mx_verdict(DnsFacts(NAME, "MX", DnsStatus.NODATA), "us-east-1")

    assert result == MxLookup(MISSING, (), "no MX record at mail.example.com (NOERROR, no data)")


def test_a_name_that_cannot_exist_is_missing_with_the_adapters_reason():
    result = mx_verdict(DnsFacts("", "MX", DnsStatus.BAD_NAME, error="the domain name is empty"), "us-east-1")

    assert result == MxLookup(MISSING, (), "the domain name is empty")


@pytest.mark.parametrize("status", [DnsStatus.TIMEOUT, DnsStatus.SERVFAIL, DnsStatus.REFUSED, DnsStatus.MALFORMED,
                                    DnsStatus.UNREACHABLE, DnsStatus.ERROR])
def test_every_failure_is_transient_with_its_error(status):
    assert mx_verdict(failure(status, f"{status} at 127.0.0.1:53"), "us-east-1") == \
        MxLookup(TRANSIENT, (), f"{status} at 127.0.0.1:53")


def test_the_verdict_covers_every_status():
    outcomes = {status: mx_verdict(DnsFacts(NAME, "MX", status, error="x"), "us-east-1").outcome for status in DnsStatus}

    assert {status for status, outcome in outcomes.items() if outcome is MISSING} == {
        DnsStatus.ANSWER, DnsStatus.NXDOMAIN, DnsStatus.NODATA, DnsStatus.BAD_NAME}


def test_a_failure_needs_no_region():
    assert mx_verdict(failure(DnsStatus.ERROR), None).outcome is TRANSIENT


def test_spf_is_carried_and_never_changes_the_outcome():
    assert mx_verdict(mx((10, "mx.other.com.")), "us-east-1", SPF_RECORD) == \
        MxLookup(MISSING, ("10 mx.other.com.",), "MX points to mx.other.com., expected feedback-smtp.us-east-1.amazonses.com",
                 SPF_RECORD)


@pytest.mark.parametrize(("status", "wanted"), [(DnsStatus.ANSWER, True), (DnsStatus.NODATA, True),
                                                (DnsStatus.NXDOMAIN, False), (DnsStatus.TIMEOUT, False),
                                                (DnsStatus.SERVFAIL, False), (DnsStatus.BAD_NAME, False)])
def test_spf_is_asked_only_where_the_name_exists_and_answered(status, wanted):
    assert wants_spf(DnsFacts(NAME, "MX", status)) is wanted


def test_spf_advice_picks_the_spf_record_among_the_txt():
    txt = DnsFacts(NAME, "TXT", DnsStatus.ANSWER, txt=("google-site-verification=abc", "v=spf1 include:x ~all",
                                                       SPF_RECORD, "v=spf10 nope"))

    assert spf_advice(txt) == SPF_RECORD  # of two SPF records, the same one every time
    assert spf_advice(DnsFacts(NAME, "TXT", DnsStatus.ANSWER, txt=("V=SPF1",))) == "V=SPF1"
    assert spf_advice(DnsFacts(NAME, "TXT", DnsStatus.ANSWER, txt=("not spf",))) is None


@pytest.mark.parametrize("status", [DnsStatus.NODATA, DnsStatus.SERVFAIL, DnsStatus.TIMEOUT])
def test_no_txt_answer_is_just_no_advice(status):
    assert spf_advice(DnsFacts(NAME, "TXT", status, txt=(SPF_RECORD,))) is None
    assert spf_advice(None) is None


def test_facts_carry_cname_targets_for_checks_to_come():
    facts = DnsFacts("tok._domainkey.example.com", "CNAME", DnsStatus.ANSWER, cname=("tok.dkim.amazonses.com.",))

    assert facts.cname == ("tok.dkim.amazonses.com.",) and facts.mx == () and facts.txt == ()


def test_feedback_host_and_the_records_to_publish():
    assert feedback_host(" EU-WEST-1 ") == "feedback-smtp.eu-west-1.amazonses.com"
    assert records_to_publish(" Mail.Example.com. ", "eu-west-1") == [
        "mail.example.com. MX 10 feedback-smtp.eu-west-1.amazonses.com.",
        'mail.example.com. TXT "v=spf1 include:amazonses.com ~all"',
    ]


# --- identity verification (SPEC §12) -------------------------------------------------
from simulator.core import verdicts  # noqa: E402
from simulator.core.model import VerificationMethod  # noqa: E402

TOKENS = ("aaa", "bbb", "ccc")


def _cname(name: str, target: str) -> DnsFacts:
    return DnsFacts(name, "CNAME", DnsStatus.ANSWER, cname=(target + ".",))


TXT_NAME = "_amazonses.example.com"


def _txt(*texts: str) -> DnsFacts:
    return DnsFacts(TXT_NAME, "TXT", DnsStatus.ANSWER, txt=texts)


def _cnames(target_of=lambda t: f"{t}.dkim.amazonses.com") -> list[DnsFacts]:
    return [_cname(f"{t}._domainkey.example.com", target_of(t)) for t in TOKENS]


def test_verification_asks_for_the_txt_token_and_the_three_dkim_cnames():
    assert verdicts.verification_questions("example.com", TOKENS) == [
        (TXT_NAME, "TXT"), ("aaa._domainkey.example.com", "CNAME"), ("bbb._domainkey.example.com", "CNAME"),
        ("ccc._domainkey.example.com", "CNAME")]


@pytest.mark.parametrize("method", [VerificationMethod.DKIM, VerificationMethod.TXT])
def test_either_way_verifies_whichever_api_made_the_identity(method):
    no_txt = DnsFacts(TXT_NAME, "TXT", DnsStatus.NXDOMAIN)
    assert verdicts.verification_verdict(method, TOKENS, "tok", [no_txt, *_cnames()]).outcome is LookupOutcome.FOUND
    no_cnames = [DnsFacts(f"{t}._domainkey.example.com", "CNAME", DnsStatus.NXDOMAIN) for t in TOKENS]
    assert verdicts.verification_verdict(method, TOKENS, "tok", [_txt("tok"), *no_cnames]).outcome is \
        LookupOutcome.FOUND
    neither = verdicts.verification_verdict(method, TOKENS, "tok", [no_txt, *no_cnames])
    assert neither.outcome is LookupOutcome.MISSING
    own_first = "NXDOMAIN: _amazonses" if method is VerificationMethod.TXT else "NXDOMAIN: aaa._domainkey"
    assert neither.error.startswith(own_first)


def test_all_three_cnames_at_ses_are_found_and_one_elsewhere_is_missing():
    good = _cnames()
    assert verdicts.method_verdict(VerificationMethod.DKIM, TOKENS, None, good).outcome is LookupOutcome.FOUND
    wrong = good[:2] + [_cname("ccc._domainkey.example.com", "elsewhere.example.net")]
    verdict = verdicts.method_verdict(VerificationMethod.DKIM, TOKENS, None, wrong)
    assert verdict.outcome is LookupOutcome.MISSING and "expected ccc.dkim.amazonses.com" in verdict.error


def test_a_failed_query_says_nothing_about_the_records():
    answers = [_cname("aaa._domainkey.example.com", "aaa.dkim.amazonses.com"),
               DnsFacts("bbb._domainkey.example.com", "CNAME", DnsStatus.NXDOMAIN),
               DnsFacts("ccc._domainkey.example.com", "CNAME", DnsStatus.SERVFAIL, error="SERVFAIL")]
    assert verdicts.method_verdict(VerificationMethod.DKIM, TOKENS, None, answers).outcome is \
        LookupOutcome.TRANSIENT
    # Neither way found: a way that could not say makes the whole TRANSIENT.
    no_txt = DnsFacts(TXT_NAME, "TXT", DnsStatus.NXDOMAIN)
    assert verdicts.verification_verdict(VerificationMethod.TXT, TOKENS, "tok", [no_txt, *answers]).outcome is \
        LookupOutcome.TRANSIENT


def test_the_txt_token_must_be_among_the_records():
    facts = _txt("other", "tok")
    assert verdicts.method_verdict(VerificationMethod.TXT, (), "tok", [facts]).outcome is LookupOutcome.FOUND
    assert verdicts.method_verdict(VerificationMethod.TXT, (), "nope", [facts]).outcome is \
        LookupOutcome.MISSING
