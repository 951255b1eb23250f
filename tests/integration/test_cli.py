"""The command line as a newcomer meets it: --version, serve --help, the reasons it
refuses to start, and the relay's AUTH/STARTTLS options end to end."""
from __future__ import annotations

import socket
import subprocess
import sys
import warnings

import pytest

from simulator import __version__
from tests.helpers import SimControl, SimulatorProcess, aws_client
from tests.integration.test_send_relay import CONTENT, wait_relay
from tests.integration.test_smtp_relay import PASSWORD, USER, guarded_server, self_signed_context


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_version():
    result = cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"mailfrom-sim {__version__}")


def test_serve_help_shows_each_default_and_environment_variable():
    import os

    result = cli("serve", "--help", env={**os.environ, "MAILFROM_SIM_CHECK_INTERVAL": "5",
                                        "MAILFROM_SIM_SMTP_RELAY_PASSWORD": "do-not-print"})
    text = " ".join(result.stdout.split())  # argparse wraps lines anywhere
    for fragment in ("[default: 8587; env MAILFROM_SIM_PORT]", "[default: 8553; env MAILFROM_SIM_DNS_PORT]",
                     "[default: none; env MAILFROM_SIM_SMTP_RELAY]", "[default: 5.0; env MAILFROM_SIM_CHECK_INTERVAL]",
                     "[default: (hidden); env MAILFROM_SIM_SMTP_RELAY_PASSWORD]",
                     "[default: off; env MAILFROM_SIM_SMTP_RELAY_STARTTLS]",
                     "[default: on; env MAILFROM_SIM_MAIL_AUTH]", "[default: none; env MAILFROM_SIM_ALLOWED_HOST]"):
        assert fragment in text
    assert "do-not-print" not in result.stdout


@pytest.mark.parametrize("flag,kind", [("--port", socket.SOCK_STREAM), ("--dns-port", socket.SOCK_DGRAM),
                                       ("--smtp-port", socket.SOCK_STREAM)])
def test_a_port_in_use_is_named(flag, kind):
    with socket.socket(socket.AF_INET, kind) as taken:
        taken.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            taken.listen()
        port = taken.getsockname()[1]
        ports = {"--port": "0", "--dns-port": "0", flag: str(port)}
        result = cli("serve", "--db", ":memory:", *[x for item in ports.items() for x in item])

    assert result.returncode == 2
    assert result.stderr.strip() == f"mailfrom-sim: cannot start: port {port} is in use ({flag})"


def test_a_taken_smtp_port_blames_the_smtp_port_not_the_api_port_already_bound():
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        api_port = free.getsockname()[1]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        smtp_port = taken.getsockname()[1]
        result = cli("serve", "--db", ":memory:", "--port", str(api_port), "--dns-port", "0",
                     "--smtp-port", str(smtp_port))
    assert result.returncode == 2
    assert result.stderr.strip() == f"mailfrom-sim: cannot start: port {smtp_port} is in use (--smtp-port)"


@pytest.mark.parametrize("variable, value, kind", [("MAILFROM_SIM_PORT", "abc", "int"),
                                                   ("MAILFROM_SIM_SMTP_PORT", "99999", "port")])
def test_a_bad_environment_value_stops_serve_only(variable, value, kind):
    import os

    # The other ports free (0); the variable's own flag not given, so its value is read.
    env = {**os.environ, "MAILFROM_SIM_PORT": "0", "MAILFROM_SIM_DNS_PORT": "0", "MAILFROM_SIM_SMTP_PORT": "0",
           variable: value}
    result = cli("serve", "--db", ":memory:", env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == f"mailfrom-sim: cannot start: {variable}={value!r} is not a valid {kind}"
    assert cli("--version", env=env).returncode == 0  # the other commands never read it


def test_a_bad_db_is_one_line_not_a_traceback(tmp_path):
    result = cli("serve", "--port", "0", "--dns-port", "0", "--db", str(tmp_path / "missing" / "sim.db"))

    assert result.returncode == 2
    assert result.stderr.strip() == f"mailfrom-sim: cannot start: --db {tmp_path}/missing/sim.db: " \
                                    "unable to open database file"


def test_relay_options_need_a_relay():
    result = cli("serve", "--port", "0", "--dns-port", "0", "--db", ":memory:", "--smtp-relay-starttls")
    assert result.returncode == 2 and "need --smtp-relay" in result.stderr


def test_serve_relays_through_starttls_and_auth(tmp_path):
    with warnings.catch_warnings(), guarded_server(tls_context=self_signed_context(tmp_path),
                                                   require_starttls=True) as (controller, handler):
        process = SimulatorProcess("--db", ":memory:", "--smtp-relay", f"127.0.0.1:{controller.port}",
                                   "--smtp-relay-user", USER, "--smtp-relay-starttls",
                                   env={"MAILFROM_SIM_SMTP_RELAY_PASSWORD": PASSWORD}).start()
        try:
            sesv2 = aws_client("sesv2", process.url)
            sesv2.create_email_identity(EmailIdentity="example.com")
            message_id = sesv2.send_email(FromEmailAddress="app@example.com", Content=CONTENT,
                                          Destination={"ToAddresses": ["a@example.org"]})["MessageId"]

            assert wait_relay(SimControl(process.url), message_id)["relay"] == "delivered"
            assert [e["mail_from"] for e in handler.envelopes] == [f"{message_id}@amazonses.com"]
        finally:
            process.stop()


def test_another_resolver_turns_the_embedded_dns_server_and_its_control_calls_off():
    process = SimulatorProcess("--db", ":memory:", "--resolver", "127.0.0.1:9", "--dns-timeout", "0.2").start()
    try:
        control = SimControl(process.url)
        assert control.ok("GET", "/_sim/health")["dns"] is None  # no embedded server, no DNS port
        for method, path, body in [("GET", "/_sim/dns/records", None),
                                   ("POST", "/_sim/dns/records", {"name": "mail.example.com", "type": "MX",
                                                                  "value": "10 feedback-smtp.us-east-1.amazonses.com"}),
                                   ("PUT", "/_sim/dns/faults/mail.example.com", {"fault": "servfail"})]:
            status, payload = control.call(method, path, body)
            assert (status, payload["error"]["code"]) == (400, "VALIDATION_ERROR")
            assert "embedded DNS server is not in use" in payload["error"]["message"]
    finally:
        process.stop()


@pytest.mark.parametrize("args, message", [
    (["--timeout", "inf"], "--timeout inf must be a number of seconds from 0 to 60"),
    (["--timeout", "0"], "--timeout 0.0 must be a number of seconds from 0 to 60"),
    (["--region", "bad region!"], "--region 'bad region!' is not a region name such as us-east-1"),
])
def test_check_refuses_settings_it_cannot_use(args, message):
    result = cli("check", "mail.example.com", *args)
    assert (result.returncode, result.stderr.strip()) == (2, f"mailfrom-sim: {message}")


def test_serve_refuses_a_region_that_is_not_one():
    result = cli("serve", "--port", "0", "--dns-port", "0", "--db", ":memory:", "--region", "bad region!")
    assert result.returncode == 2
    assert result.stderr.strip() == "mailfrom-sim: cannot start: --region 'bad region!' is not a region name " \
                                    "such as us-east-1"


def test_an_ipv6_host_is_bracketed_in_the_ready_line():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("::1 cannot be bound here")
    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "serve", "--host", "::1", "--port", "0",
                                "--dns-port", "0", "--smtp-port", "0", "--db", ":memory:"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        api = line.split("API ", 1)[1].split()[0]
        smtp = line.split("SMTP ", 1)[1].split()[0]
        assert api.startswith("http://[::1]:") and smtp.startswith("[::1]:"), line
        assert SimControl(api).ok("GET", "/_sim/health")["status"] == "ok"
    finally:
        process.terminate()
        process.communicate(timeout=20)


def test_ctrl_c_during_a_scenario_run_is_one_line_not_a_traceback():
    import signal

    process = subprocess.Popen([sys.executable, "-m", "simulator.cli", "scenario", "run", "scenarios/"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline()  # it is running scenarios
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err.strip().endswith("mailfrom-sim: interrupted") and "Traceback" not in err


@pytest.mark.parametrize("args, reason", [
    (["--smtp-cert", "/nonexistent/cert.pem", "--smtp-key", "/nonexistent/key.pem"],
     "--smtp-cert /nonexistent/cert.pem / --smtp-key /nonexistent/key.pem: No such file or directory"),
    (["--db", ""], "--db must name a database file (or :memory:)"),
])
def test_start_up_refusals_name_the_option(args, reason):
    base = {"--port": "0", "--dns-port": "0", "--smtp-port": "0", "--db": ":memory:"}
    given = dict(zip(args[::2], args[1::2]))
    result = cli("serve", *[x for item in {**base, **given}.items() for x in item])
    assert (result.returncode, result.stderr.strip()) == (2, f"mailfrom-sim: cannot start: {reason}")


def test_a_certificate_that_is_not_pem_is_named(tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    result = cli("serve", "--port", "0", "--dns-port", "0", "--db", ":memory:", "--smtp-port", "0",
                 "--smtp-cert", str(junk), "--smtp-key", str(junk))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"mailfrom-sim: cannot start: --smtp-cert {junk} / --smtp-key {junk}: "
                                     "not a PEM certificate and its private key")
