"""`mailfrom-sim serve | check | scenario run`: the command line.

Every serve option can also come from the environment as MAILFROM_SIM_<NAME>
(e.g. MAILFROM_SIM_CHECK_INTERVAL=5); a flag wins over the environment.
"""
from __future__ import annotations

import argparse
import errno
import math
import os
import signal
import sqlite3
import sys
import threading

from . import __version__


def boolean(text: str) -> bool:
    """A switch: `--flag` alone is on; `--flag false` or MAILFROM_SIM_FLAG=0 is off."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(text)


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


def names(text: str) -> tuple[str, ...]:
    """A repeatable option's values from the environment: comma-separated (`a.test,b.test`)."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


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
    ("--smtp-relay-user", str, None, "log in to the relay as this user (SMTP AUTH)"),
    ("--smtp-relay-password", str, None, "the relay user's password (prefer the environment variable)"),
    ("--smtp-relay-starttls", boolean, False, "STARTTLS before anything else (certificate not verified)"),
    ("--region", str, "us-east-1", "region for requests without a signature"),
    ("--dns-timeout", float, 2.0, "seconds one MX lookup may take before it counts as TRANSIENT"),
    ("--identity-verification", str, "instant", "instant (identities verified when created) or dns (domains "
                                                "verified by their DKIM CNAMEs, addresses by a link)"),
    ("--smtp-port", port, 2587, "SES SMTP interface port, STARTTLS (0: any free port; off: none)"),
    ("--smtps-port", port, None, "SES SMTP interface port with implicit TLS (none: off)"),
    ("--smtp-cert", str, None, "PEM certificate for SMTP TLS (default: self-signed, made next to --db)"),
    ("--smtp-key", str, None, "PEM private key for --smtp-cert"),
    ("--log-level", str, "INFO", "DEBUG, INFO (a line per transition, send decision, relay result), WARNING, ERROR"),
    ("--log-format", str, "text", "text or json (one object per line)"),
    ("--auth", str, "none", "none, or strict: SigV4 (and SMTP passwords) verified with the keys of --credentials"),
    ("--credentials", str, None, 'JSON file {"ACCESS_KEY_ID": {"secret": ..., "account": "123456789012"}}'),
    ("--control-token", str, None, "require Authorization: Bearer TOKEN on /_sim"),
    ("--mail-auth", on_off, True, "on: DKIM-sign accepted mail as SES and add the receiver's "
                                  "Authentication-Results (SPF, DKIM, DMARC); off: neither"),
    ("--dkim-key-bits", int, 2048, "RSA key size of the DKIM keys the simulator makes (1024 or 2048)"),
    ("--allowed-host", names, (), "a Host name to serve besides loopback and --host (repeatable; * for any; "
                                  "env: comma-separated)"),
]


def env_name(flag: str) -> str:
    return "MAILFROM_SIM_" + flag[2:].upper().replace("-", "_")


class _BadEnv:
    """A MAILFROM_SIM_* value that does not parse: `serve` refuses to start on it (the other
    commands, and a flag given instead, never read it)."""

    def __init__(self, env: str, raw: str, kind):
        self.problem = f"{env}={raw!r} is not a valid {kind.__name__}"

    def __repr__(self) -> str:
        return f"invalid ({self.problem})"


def _env_default(flag: str, kind, default):
    env = env_name(flag)
    raw = os.environ.get(env)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except (ValueError, argparse.ArgumentTypeError):
        return _BadEnv(env, raw, kind)


def _shown(flag: str, kind, current) -> str:
    """A default as --help shows it (and the README's table): none, on/off, or the value."""
    if isinstance(current, _BadEnv):
        return repr(current).replace("%", "%%")
    if current is None or current == ():
        return "none"
    if "password" in flag:
        return "(hidden)"
    if kind in (boolean, on_off):
        return "on" if current else "off"
    return ",".join(current) if kind is names else "%(default)s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mailfrom-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the simulator")
    for flag, kind, default, help_text in SERVE_OPTIONS:
        current = _env_default(flag, kind, default)
        shown = _shown(flag, kind, current)
        if kind is names:  # repeatable: the flags given replace the environment's list, not extend it
            how = {"type": str, "action": "append", "default": None, "metavar": "NAME"}
        else:
            how = {"type": kind, "default": current, **({"nargs": "?", "const": True} if kind is boolean else {})}
        serve.add_argument(flag, **how,
                           help=f"{help_text.replace('%', '%%')} [default: {shown}; env {env_name(flag)}]")

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


def _allowed_hosts(args) -> tuple[str, ...]:
    """`--allowed-host` flags when given, else MAILFROM_SIM_ALLOWED_HOST's names."""
    if args.allowed_host is not None:
        return tuple(args.allowed_host)
    return _env_default("--allowed-host", names, ())


def serve(args) -> int:
    from . import logs
    from .runtime import Options, Runtime

    bad = next((value for value in vars(args).values() if isinstance(value, _BadEnv)), None)
    if bad is not None:
        print(f"mailfrom-sim: cannot start: {bad.problem}", file=sys.stderr)
        return 2
    try:
        logs.configure(args.log_level, args.log_format)
    except ValueError as exc:
        print(f"mailfrom-sim: cannot start: {exc}", file=sys.stderr)
        return 2
    options = Options(host=args.host, port=args.port, db=args.db, resolver=args.resolver, dns_port=args.dns_port,
                      check_interval=args.check_interval, pending_timeout=args.pending_timeout,
                      smtp_relay=args.smtp_relay, smtp_relay_user=args.smtp_relay_user,
                      smtp_relay_password=args.smtp_relay_password, smtp_relay_starttls=args.smtp_relay_starttls,
                      region=args.region, dns_timeout=args.dns_timeout,
                      identity_verification=args.identity_verification,
                      smtp_port=args.smtp_port, smtps_port=args.smtps_port,
                      smtp_cert=args.smtp_cert, smtp_key=args.smtp_key,
                      allowed_hosts=_allowed_hosts(args), auth=args.auth,
                      credentials=args.credentials, control_token=args.control_token,
                      mail_auth=args.mail_auth, dkim_key_bits=args.dkim_key_bits)
    try:
        runtime = Runtime(options).start()
    except (ValueError, OSError, sqlite3.Error) as exc:
        if isinstance(exc, sqlite3.Error):
            exc = f"--db {options.db}: {exc}"
        elif isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            exc = _port_in_use(options) or exc
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


def _port_in_use(options) -> str | None:
    """Which configured port is taken (probed once everything of ours is closed again)."""
    import dataclasses
    import socket

    for field in dataclasses.fields(options):
        port = getattr(options, field.name)
        if not field.name.endswith("port") or not isinstance(port, int) or port == 0:
            continue
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM) if field.name == "dns_port" else (socket.SOCK_STREAM,):
            with socket.socket(socket.AF_INET6 if ":" in options.host else socket.AF_INET, kind) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
                try:
                    probe.bind((options.host, port))
                except OSError:
                    return f"port {port} is in use (--{field.name.replace('_', '-')})"
    return None


def check(args) -> int:
    from .core.names import host_name_problem, is_region_name, normalize_domain
    from .core.verdicts import records_to_publish
    from .lookup.resolver import parse_resolver_spec

    if not (math.isfinite(args.timeout) and 0 < args.timeout <= 60):
        print(f"mailfrom-sim: --timeout {args.timeout!r} must be a number of seconds from 0 to 60", file=sys.stderr)
        return 2
    if not is_region_name(args.region):
        print(f"mailfrom-sim: --region {args.region!r} is not a region name such as us-east-1", file=sys.stderr)
        return 2
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
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "check":
            return check(args)
        return scenario(args)
    except KeyboardInterrupt:  # Ctrl-C in check or scenario run (serve stops on its own signal handler)
        print("mailfrom-sim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `| head`: the reader left; say nothing more to it
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
