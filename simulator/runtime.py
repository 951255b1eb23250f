"""Assembles a running simulator: store, embedded DNS, resolver, facade, scheduler,
relay and the HTTP server (granian, embedded: simulator/api/server.py). `mailfrom-sim serve`, the tests and the scenario
runner all start the same thing through `Runtime`.
"""
from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass

from . import startup
from .api.app import create_app
from .api.server import HttpServer
from .core.model import Settings
from .core.names import host_port_text
from .events import EventBus
from .activity import Activity
from .logs import log_event
from .credentials import load_credentials
from .scheduler import CheckScheduler
from .sealer import Sealer
from .service import Simulator
from .store import Store

log = logging.getLogger("mailfrom_sim")


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 8587
    db: str = "./mailfrom-sim.db"
    resolver: str = "embedded"
    dns_port: int = 8553
    check_interval: float = 60.0
    pending_timeout: float = 259200.0
    smtp_relay: str | None = None
    smtp_relay_user: str | None = None
    smtp_relay_password: str | None = None
    smtp_relay_starttls: bool = False
    region: str = "us-east-1"
    dns_timeout: float = 2.0
    identity_verification: str = "instant"  # or "dns" (SPEC §12)
    threads: int = 16
    scheduler: bool = True
    smtp_port: int | None = None  # the SES SMTP interface; None: off (the CLI's default is 2587)
    smtps_port: int | None = None
    smtp_cert: str | None = None
    smtp_key: str | None = None
    sse_streams: int = 32  # concurrent /_sim/events streams, served by threads of their own
    allowed_hosts: tuple[str, ...] = ()  # Host names served besides loopback and `host` (SPEC §14)
    auth: str = "none"  # "strict": SigV4 verified against `credentials` on every AWS request
    credentials: str | None = None
    control_token: str | None = None
    mail_auth: bool = True  # DKIM signatures and Authentication-Results on accepted mail
    dkim_key_bits: int = 2048


class Runtime:
    """The composition root: builds every piece, in order, before anything is served."""

    def __init__(self, options: Options):
        from .lookup.resolver import parse_resolver_spec
        from .nameserver.server import EmbeddedDnsServer
        from .nameserver.stored import StoredRecords
        from .nameserver.zone import Zone

        startup.check_options(options)
        startup.check_database(options.db)
        credentials = load_credentials(options.credentials) if options.auth == "strict" else None
        if options.dkim_key_bits not in (1024, 2048):
            raise ValueError("--dkim-key-bits must be 1024 or 2048")
        self.options = options
        if (options.smtp_relay_user or options.smtp_relay_starttls) and not options.smtp_relay:
            raise ValueError("--smtp-relay-user and --smtp-relay-starttls need --smtp-relay HOST:PORT")
        if options.resolver != "embedded":
            parse_resolver_spec(options.resolver, None)  # a bad --resolver fails now, with its reason
        self.store = Store(options.db)
        self.zone = None
        self.dns_server = None
        self.relay = None
        self.smtp = None
        self._smtp_tempdir = None
        try:
            if options.resolver == "embedded":
                self.zone = Zone(StoredRecords(self.store))  # records read per name: start-up reads none
                self.dns_server = EmbeddedDnsServer(self.zone, host="127.0.0.1", port=options.dns_port).start()
                lookup = parse_resolver_spec("embedded", self.dns_server.address, options.dns_timeout)
            else:
                lookup = parse_resolver_spec(options.resolver, None, options.dns_timeout)
            if options.smtp_relay:
                from .smtp.relay import SmtpRelay, parse_relay_spec

                host, port = parse_relay_spec(options.smtp_relay)
                # Results come back only for messages the facade submitted, so it exists by then.
                self.relay = SmtpRelay(host, port, on_result=lambda message_id, status:
                                       simulator.record_relay_result(message_id, status),
                                       username=options.smtp_relay_user, password=options.smtp_relay_password,
                                       starttls=options.smtp_relay_starttls)
            authenticator = None
            if options.mail_auth:
                from .mailauth import Authenticator

                authenticator = Authenticator(self.store, self.zone, lookup.nameserver, options.dns_timeout,
                                              bits=options.dkim_key_bits)
            self.events = EventBus()
            self.events.add_listener(log_event)
            self.activity = Activity()
            simulator = Simulator(
                self.store,
                Settings(check_interval=options.check_interval, pending_timeout=options.pending_timeout,
                         identity_verification=options.identity_verification),
                lookup=lookup, zone=self.zone, relay=self.relay, dns_address=self.dns_address, events=self.events,
                authenticator=authenticator, activity=self.activity,
            )
            self.simulator = simulator
            self.sealer = Sealer(simulator, self.activity)
            self.app = create_app(simulator, {
                "DEFAULT_REGION": options.region, "SSE_STREAMS": options.sse_streams, "CREDENTIALS": credentials,
                "CONTROL_TOKEN": options.control_token,
                "ALLOWED_HOSTS": frozenset(h.lower() for h in (options.host, *options.allowed_hosts))})
            if options.smtp_port is not None or options.smtps_port is not None:
                self._setup_smtp(credentials)
            self.scheduler = CheckScheduler(simulator, tick_seconds=min(1.0, options.check_interval))
            # Event streams hold an app thread each while open: they get threads of their own.
            self.server = HttpServer(self.app, options.host, options.port,
                                     threads=options.threads + options.sse_streams)
        except BaseException:
            self._close_edges()
            raise

    def _setup_smtp(self, credentials) -> None:
        import tempfile

        from .smtp.server import SmtpInterface
        from .smtp.tls import ensure_self_signed, server_context

        options = self.options
        if bool(options.smtp_cert) != bool(options.smtp_key):
            raise ValueError("--smtp-cert and --smtp-key go together")
        if options.smtp_cert:
            cert, key = options.smtp_cert, options.smtp_key
        else:  # a self-signed pair in the data directory, made at first start
            if options.db == ":memory:":
                self._smtp_tempdir = tempfile.TemporaryDirectory(prefix="mailfrom-sim-")
                directory = self._smtp_tempdir.name
            else:
                directory = os.path.dirname(os.path.abspath(options.db))
            cert, key = ensure_self_signed(directory, options.host)
        self.smtp_certificate = cert
        try:
            context = server_context(cert, key)
        except (OSError, ssl.SSLError) as exc:  # missing, unreadable, not PEM, not a pair
            reason = ("not a PEM certificate and its private key" if isinstance(exc, ssl.SSLError)
                      else exc.strerror or exc)
            raise ValueError(f"--smtp-cert {cert} / --smtp-key {key}: {reason}") from None
        self.smtp = SmtpInterface(self.simulator, host=options.host, port=options.smtp_port,
                                  smtps_port=options.smtps_port, region=options.region,
                                  tls_context=context, credentials=credentials)

    @property
    def url(self) -> str:
        return f"http://{host_port_text(self.options.host, self.port)}"

    @property
    def port(self) -> int:
        return self.server.effective_port

    @property
    def dns_address(self) -> str | None:
        return f"127.0.0.1:{self.dns_server.port}" if self.dns_server else None

    def start(self) -> "Runtime":
        """Serve: SMTP, HTTP, the scheduler, and the relay's unfinished deliveries."""
        if self.smtp is not None:
            try:
                self.smtp.start()
            except BaseException:  # e.g. its port is taken: let go of the ports bound so far
                self.server.stop(timeout=0)
                self._close_edges()
                raise
            self.app.config["SMTP"] = self.smtp.describe()  # its address is known once it listens
        self.server.start()
        if self.options.scheduler:
            self.scheduler.start()
        self.simulator.resume_pending_relays()
        self.sealer.start()  # and what a previous process acknowledged but had not sealed
        return self

    def stop(self) -> None:
        """Stop taking requests, finish checks and deliveries, then close the database."""
        self.events.close()  # ends the event streams, which would hold their threads
        # First: sweeps stop looking up (a stalled DNS server must not hold the stop, nor the
        # requests drained next), the scheduler stops ticking.
        self.scheduler.stop()
        # Stop accepting, let requests in flight finish and their answers go out, then close.
        self.server.stop(timeout=5.0)
        if self.smtp is not None:
            self.smtp.stop()
        self.sealer.stop()  # before the relay closes: what it seals goes to the relay
        self._close_edges()

    def _close_edges(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
        if self.relay is not None:
            self.relay.close(timeout=10)
        if self.dns_server is not None:
            self.dns_server.stop()
        self.store.close()
        if self._smtp_tempdir is not None:
            self._smtp_tempdir.cleanup()

