"""`serve`'s log lines: INFO per transition, send decision and relay result; text or JSON;
no traceback for a client's mistake."""
import json
import subprocess
import sys

from tests.helpers import SimControl, SimulatorProcess, aws_client


def exercise(url: str) -> None:
    sesv2, control = aws_client("sesv2", url), SimControl(url)
    sesv2.create_email_identity(EmailIdentity="example.com")
    sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com")
    sesv2.send_email(FromEmailAddress="a@example.com", Destination={"ToAddresses": ["b@example.net"]},
                     Content={"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}})
    control.add_mx("mail.example.com")
    control.ok("POST", "/_sim/checks/run", {})
    status, _ = control.call("POST", "/_sim/clock/advance", raw=b"{not json")  # a client error
    assert status == 400


def test_text_logs_have_one_info_line_per_transition_and_send_decision():
    process = SimulatorProcess("--db", ":memory:").start()
    exercise(process.url)
    output = process.stop()
    lines = [line for line in output.splitlines() if " INFO mailfrom_sim " in line]
    assert any("example.com [000000000000/us-east-1] MAIL FROM mail.example.com: (none) -> PENDING on PUT" in line
               for line in lines)
    assert any("PENDING -> SUCCESS on FOUND (MX: 10 feedback-smtp.us-east-1.amazonses.com.)" in line for line in lines)
    assert any(" sent " in line and "@amazonses.com (default" in line for line in lines)
    assert "Traceback" not in output


def test_a_verification_transition_is_logged_as_one():
    process = SimulatorProcess("--db", ":memory:", "--identity-verification", "dns").start()
    sesv2, control = aws_client("sesv2", process.url), SimControl(process.url)
    tokens = sesv2.create_email_identity(EmailIdentity="example.com")["DkimAttributes"]["Tokens"]
    for token in tokens:
        control.ok("POST", "/_sim/dns/records", {"name": f"{token}._domainkey.example.com", "type": "CNAME",
                                                 "value": f"{token}.dkim.amazonses.com"})
    control.ok("POST", "/_sim/checks/run", {"identity": "example.com"})
    output = process.stop()
    [line] = [line for line in output.splitlines() if "PENDING -> SUCCESS on FOUND" in line]
    assert "verification example.com: PENDING -> SUCCESS on FOUND (records: " in line and "MAIL FROM" not in line


def test_json_logs_are_one_object_per_line_with_the_event_fields():
    process = SimulatorProcess("--db", ":memory:", "--log-format", "json").start()
    exercise(process.url)
    output = process.stop()
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    transitions = [r for r in records if r.get("event") == "transition"]
    assert [(r["from"], r["to"], r["level"], r["logger"]) for r in transitions] == [
        (None, "PENDING", "INFO", "mailfrom_sim"), ("PENDING", "SUCCESS", "INFO", "mailfrom_sim")]
    sent = [r for r in records if r.get("event") == "sent"]
    assert len(sent) == 1 and sent[0]["mail_from_decision"] == "default"
    assert "Traceback" not in output


def test_log_level_warning_silences_the_info_lines_and_a_bad_level_refuses_to_start():
    process = SimulatorProcess("--db", ":memory:", "--log-level", "WARNING").start()
    exercise(process.url)
    assert " INFO " not in process.stop()
    bad = subprocess.run([sys.executable, "-m", "simulator.cli", "serve", "--port", "0", "--dns-port", "0",
                          "--db", ":memory:", "--log-format", "xml"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "cannot start: --log-format must be one of text, json" in bad.stderr
