"""`mailfrom-sim serve | check | scenario run`: the command line.

Every serve option can also come from the environment as MAILFROM_SIM_<NAME>
(e.g. MAILFROM_SIM_CHECK_INTERVAL=5); a flag wins over the environment.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

def port(text: str) -> int | None:
    """A port number, or `off` (None)."""
    if text.strip().lower() == "off":
        return None
    number = int(text)
    if not 0 <= number <= 65535:
        raise ValueError(text)
    return number


def on_off(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("on", "off"):
        raise ValueError(text)
    return value == "on"


SERVE_OPTIONS = [
    # flag, type, default, help
    ("--host", str, "127.0.0.1", "API address"),
    ("--port", int, 8587, "API port (0: any free port, printed at start)"),
    ("--db", str, "./mailfrom-sim.db", "SQLite file; :memory: for none"),
    ("--resolver", str, "embedded", "embedded, system, or HOST:PORT of any DNS server"),
    ("--dns-port", int, 8553, "embedded DNS server's port (0: any)"),
    ("--check-interval", float, 60.0, "seconds between MX checks"),
    ("--pending-timeout", float, 259200.0, "seconds before PENDING/TEMPORARY_FAILURE becomes FAILED"),
    ("--smtp-relay", str, None, "HOST:PORT to deliver accepted mail to"),
    ("--region", str, "us-east-1", "region for requests without a signature"),
    ("--dns-timeout", float, 2.0, "seconds one MX lookup may take before it counts as TRANSIENT"),
    ("--smtp-port", port, 2587, "SES SMTP interface port, STARTTLS (0: any free port; off: none)"),
    ("--smtps-port", port, None, "SES SMTP interface port with implicit TLS (default off)"),
    ("--smtp-cert", str, None, "PEM certificate for SMTP TLS (default: self-signed, made next to --db)"),
    ("--smtp-key", str, None, "PEM private key for --smtp-cert"),
    ("--auth", str, "open", "open, or strict: SMTP passwords must be derived from --credentials "
                            "(HTTP API signatures are not checked yet)"),
    ("--credentials", str, None, 'JSON file: access key id -> {"secret": ..., "account": ...}'),
    ("--mail-auth", on_off, True, "on: DKIM-sign accepted mail as SES and add the receiver's "
                                  "Authentication-Results (SPF, DKIM, DMARC); off: neither"),
    ("--dkim-key-bits", int, 2048, "RSA key size of the DKIM keys the simulator makes (1024 or 2048)"),
]


def _env_default(flag: str, kind, default):
    env = "MAILFROM_SIM_" + flag[2:].upper().replace("-", "_")
    raw = os.environ.get(env)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SystemExit(f"mailfrom-sim: {env}={raw!r} is not a valid {kind.__name__}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailfrom-sim", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the simulator")
    for flag, kind, default, help_text in SERVE_OPTIONS:
        serve.add_argument(flag, type=kind, default=_env_default(flag, kind, default), help=help_text)

    check = commands.add_parser("check", help="preflight: check a MAIL FROM domain's MX in real DNS")
    check.add_argument("mail_from_domain")
    check.add_argument("--region", default="us-east-1")
    check.add_argument("--resolver", default="system", help="system or HOST:PORT")
    check.add_argument("--timeout", type=float, default=5.0)

    scenario = commands.add_parser("scenario", help="scenario files")
    scenario_commands = scenario.add_subparsers(dest="scenario_command", required=True)
    run = scenario_commands.add_parser("run", help="run scenario files or folders")
    run.add_argument("paths", nargs="+")
    run.add_argument("--endpoint-url", default=None, help="a running simulator (default: start a private one)")
    run.add_argument("--reset", action="store_true",
                     help="allow wiping a running simulator that holds identities (each scenario resets it)")
    return parser


def serve(args) -> int:
    from .runtime import Options, Runtime

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    options = Options(host=args.host, port=args.port, db=args.db, resolver=args.resolver, dns_port=args.dns_port,
                      check_interval=args.check_interval, pending_timeout=args.pending_timeout,
                      smtp_relay=args.smtp_relay, region=args.region,
                      dns_timeout=args.dns_timeout, smtp_port=args.smtp_port, smtps_port=args.smtps_port,
                      smtp_cert=args.smtp_cert, smtp_key=args.smtp_key, auth=args.auth,
                      credentials=args.credentials, mail_auth=args.mail_auth, dkim_key_bits=args.dkim_key_bits)
    try:
        runtime = Runtime(options).start()
    except (ValueError, OSError) as exc:
        print(f"mailfrom-sim: cannot start: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    dns = runtime.dns_address or f"resolver {options.resolver}"
    smtp = runtime.smtp.address() if runtime.smtp else None
    smtps = f" SMTPS {runtime.smtp.address('smtps')}" if runtime.smtp and runtime.smtp.address("smtps") else ""
    print(f"mailfrom-sim ready: API {runtime.url} DNS {dns} db {options.db} SMTP {smtp or 'off'}{smtps}",
          flush=True)
    stop.wait()
    runtime.stop()
    print("mailfrom-sim stopped", flush=True)
    return 0


def check(args) -> int:
    from .core.names import host_name_problem, normalize_domain
    from .core.verdicts import records_to_publish
    from .lookup.resolver import parse_resolver_spec

    try:
        resolver = parse_resolver_spec(args.resolver, None, args.timeout)
    except ValueError as exc:
        print(f"mailfrom-sim: {exc}", file=sys.stderr)
        return 2
    domain = normalize_domain(args.mail_from_domain)
    problem = host_name_problem(domain)
    if problem:
        print(f"mailfrom-sim: {args.mail_from_domain!r} is not a valid domain: {problem}", file=sys.stderr)
        return 2
    lookup = resolver.lookup(domain, args.region)
    print(f"MAIL FROM domain: {domain} (region {args.region})")
    print(f"outcome: {lookup.outcome.value}")
    print(f"MX found: {', '.join(lookup.answers) if lookup.answers else '(none)'}")
    if lookup.error:
        print(f"detail: {lookup.error}")
    print(f"SPF: {lookup.spf or '(none found; advised, not required for verification)'}")
    from .lookup.records import RecordResolver
    from .mailauth.readiness import readiness

    for line in readiness(RecordResolver(resolver.nameserver, args.timeout), domain):
        print(line)
    print("records to publish:")
    for record in records_to_publish(domain, args.region):
        print(f"  {record}")
    return 0 if lookup.outcome.value == "FOUND" else 1


def scenario(args) -> int:
    from .scenarios.runner import main as run_scenarios

    return run_scenarios(args.paths, args.endpoint_url, reset=args.reset)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return serve(args)
    if args.command == "check":
        return check(args)
    return scenario(args)


if __name__ == "__main__":
    sys.exit(main())
