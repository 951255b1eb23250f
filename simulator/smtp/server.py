"""The SES SMTP interface (SPEC §11): what `email-smtp.<region>.amazonaws.com` is to
apps that send through SMTP -- EHLO, STARTTLS (or implicit TLS), AUTH PLAIN/LOGIN
before MAIL -- on aiosmtpd. Every message accepted goes through the facade's one
send path, so the MAIL FROM rules, outbox, relay and quota are those of the API.

Replies use SES's words where AWS documents them ("SMTP response codes returned by
Amazon SES"); aiosmtpd's own wording for the same conditions is translated on the
way out.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword, Session, syntax

from ..core.errors import AwsError, MailFromDomainNotVerifiedException, MessageRejected
from ..core.model import Scope
from ..core.names import host_port_text
from ..credentials import Credential, account_for_access_key
from ..mail import MAX_RECIPIENTS, V2_MAX_MESSAGE_BYTES
from ..mail.addresses import parse_address
from .credentials import password_matches

log = logging.getLogger("mailfrom_sim.smtp")

# aiosmtpd's reply -> the one SES gives for the same condition.
_SES_REPLIES = {
    "235 2.7.0 Authentication successful": "235 Authentication successful",
    "530 5.7.0 Authentication required": "530 Authentication required",
    "538 5.7.11 Encryption required for requested authentication mechanism":
        "530 Must issue a STARTTLS command first",
    "552 Error: Too much mail data": "552 Message is too long.",
    "552 Error: message size exceeds fixed maximum message size": "552 Message is too long.",
}
AUTH_INVALID = "535 Authentication Credentials Invalid"
TOO_MANY_RECIPIENTS = f"554 Transaction failed: Recipient count exceeds {MAX_RECIPIENTS}."
# SES's words (AWS knowledge center, "501 errors from the SMTP endpoint").
INVALID_MAIL_FROM = "501 Invalid MAIL FROM address provided"
INVALID_RCPT = "501 Invalid RCPT TO address provided"
NULL_SENDER = "<>"  # aiosmtpd's address for MAIL FROM:<>
TLS_ACTIVE = "503 TLS already active"
# SES's "SMTP response codes returned by Amazon SES".
TEMPORARY_FAILURE = "451 Temporary service failure"
IDLE_TIMEOUT = "451 Timeout waiting for data from client"
LINE_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"
# RFC 5321 4.5.3.1.6: a line is at most 1000 octets with its CRLF, so 998 before it.
# aiosmtpd allows 1001 on the wire, room for the dot transparency adds; the limit is
# checked again here on the message as it was meant (transparency removed).
MAX_LINE = 998
_AUTH_PARAMETER = re.compile(r"\s+AUTH=\S*", re.IGNORECASE)
_MAIL_ARGUMENT = re.compile(r"(FROM:\s*(?:<[^>]*>|\S+))(.*)", re.IGNORECASE | re.DOTALL)  # the address, the parameters
MALFORMED = "553 5.1.3 Error: malformed address"  # aiosmtpd's, for MAIL and RCPT alike


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Session(Session):
    # A plain attribute: aiosmtpd's deprecated property logs a warning on every AUTH.
    login_data = None


class _SesSMTP(SMTP):
    """aiosmtpd's SMTP with SES's replies, and AUTH required before MAIL, RCPT and DATA."""

    # AUTH LOGIN's usual challenges (draft-murchison-sasl-login), not aiosmtpd's NUL-terminated ones.
    AuthLoginUsernameChallenge = "Username:"
    AuthLoginPasswordChallenge = "Password:"

    def _create_session(self) -> Session:
        return _Session(self.loop)

    _malformed = MALFORMED  # what a malformed address in the command being answered is

    async def push(self, status) -> None:
        if isinstance(status, str):
            status = self._malformed if status == MALFORMED else _SES_REPLIES.get(status, status)
        await super().push(status)

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str):
        # aiosmtpd would answer 220 and start a handshake inside the TLS session (RFC 3207:
        # a client must not), which ends the connection without a word.
        if self._tls_protocol is not None:
            await self.push(TLS_ACTIVE)
            return
        await super().smtp_STARTTLS(arg)

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg):
        # RFC 4954 5: a server offering AUTH accepts MAIL's AUTH= parameter (it may discard
        # it); aiosmtpd knows no AUTH parameter and would answer 555.
        match = _MAIL_ARGUMENT.fullmatch(arg or "")
        if match and self.session is not None and self.session.extended_smtp:
            arg = match.group(1) + _AUTH_PARAMETER.sub("", match.group(2))
        self._malformed = INVALID_MAIL_FROM
        try:
            await super().smtp_MAIL(arg)
        finally:
            self._malformed = MALFORMED

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg):
        self._malformed = INVALID_RCPT
        try:
            await super().smtp_RCPT(arg)
        finally:
            self._malformed = MALFORMED

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        # SASL mechanism names are matched without regard to case (RFC 4422 3.1 names
        # them in upper case; clients such as `auth login` typed by hand do not).
        if arg:
            mechanism, _, rest = arg.strip().partition(" ")
            arg = f"{mechanism.upper()} {rest}".rstrip()
        await super().smtp_AUTH(arg)

    async def challenge_auth(self, *args, **kwargs):
        try:
            return await super().challenge_auth(*args, **kwargs)
        except ValueError:  # the answer's line is over the stream's limit
            await self.push(LINE_TOO_LONG)
            return MISSING

    def _timeout_cb(self):
        # SES says why before it closes an idle connection; aiosmtpd just closes it.
        if self._writer is not None and self.transport is not None and not self.transport.is_closing():
            self._writer.write(f"{IDLE_TIMEOUT}\r\n".encode())
        super()._timeout_cb()

    async def check_auth_needed(self, caller_method: str) -> bool:
        # Enforced here rather than with auth_required=True, which warns on every connection
        # when AUTH may go without TLS (allowed on loopback, a README choice).
        if self.session.authenticated:
            return False
        await self.push("530 Authentication required")
        return True


class _Listener(Controller):
    """One listening port. Port 0 binds any free port; `port` then tells which."""

    def factory(self):
        return _SesSMTP(self.handler, **self.SMTP_kwargs)

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def stop_accepting(self) -> None:
        if self.server is not None:
            self.loop.call_soon_threadsafe(self.server.close)


class SmtpInterface:
    """The SMTP listeners (STARTTLS port, optional implicit-TLS port) and their sessions.

    `credentials` is None unless `--auth strict`: then a user name must be a configured
    access key id and the password the SES SMTP password derived from its secret for
    `region`; the account is the one the credentials file gives.
    """

    def __init__(self, simulator, *, host: str, port: int | None, smtps_port: int | None, region: str,
                 tls_context, credentials: dict[str, Credential] | None = None, workers: int = 8,
                 idle_timeout: float = 300.0):
        self.simulator = simulator
        self.host = host
        self.region = region
        self.credentials = credentials
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smtp-send")
        self._in_flight = 0
        self._idle = threading.Condition()
        # No SMTPUTF8: SES's endpoint does not offer it, and the send path refuses a non-ASCII
        # local part; offering it would only move the refusal to the end of DATA.
        common = dict(data_size_limit=V2_MAX_MESSAGE_BYTES, authenticator=self._authenticate, enable_SMTPUTF8=False,
                      server_hostname="mailfrom-sim", timeout=idle_timeout,
                      ident="ESMTP SimpleEmailService")
        self.listeners: dict[str, _Listener] = {}
        if port is not None:
            self.listeners["smtp"] = _Listener(self, hostname=host, port=port, tls_context=tls_context,
                                               auth_require_tls=not is_loopback(host), **common)
        if smtps_port is not None:
            # Implicit TLS: the whole connection is encrypted, so no STARTTLS is offered.
            self.listeners["smtps"] = _Listener(self, hostname=host, port=smtps_port, ssl_context=tls_context,
                                                auth_require_tls=False, **common)

    def start(self) -> "SmtpInterface":
        started = []
        try:
            for listener in self.listeners.values():
                listener.start()
                started.append(listener)
        except BaseException:
            for listener in started:
                listener.stop()
            raise
        return self

    def address(self, kind: str = "smtp") -> str | None:
        listener = self.listeners.get(kind)
        return host_port_text(self.host, listener.port) if listener else None

    def describe(self) -> dict:
        """What /_sim/health reports."""
        return {"address": self.address("smtp"), "smtps_address": self.address("smtps"), "region": self.region,
                "auth": "strict" if self.credentials is not None else "none"}

    def stop(self, timeout: float = 10.0) -> None:
        """Stop accepting, let messages being stored finish (their 250 goes out), then close."""
        for listener in self.listeners.values():
            listener.stop_accepting()
        deadline = time.monotonic() + timeout
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, max(0.0, deadline - time.monotonic()))
        for listener in self.listeners.values():
            listener.stop(no_assert=True)
        self._executor.shutdown(wait=True)

    def close(self) -> None:
        """Let go of the listeners' event loops (each Controller makes one when it is built,
        started or not): a loop left to the garbage collector at exit prints a traceback."""
        for listener in self.listeners.values():
            if not listener.loop.is_running():
                listener.loop.close()

    # --- aiosmtpd hooks -----------------------------------------------------
    async def handle_exception(self, error: Exception) -> str:
        """A fault of ours mid-session: SES's local processing error, not Python's words."""
        log.error("SMTP session error", exc_info=error)
        return TEMPORARY_FAILURE

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        try:
            user, password = auth_data.login.decode("utf-8"), auth_data.password.decode("utf-8")
        except UnicodeDecodeError:
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        if not user:  # no access key id at all, whatever --auth says
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        scope = self.scope_for(user, password)
        if scope is None:
            return AuthResult(success=False, handled=False, message=AUTH_INVALID)
        return AuthResult(success=True, auth_data=scope)

    def scope_for(self, user: str, password: str) -> Scope | None:
        """The (account, region) these SMTP credentials send as; None if they are refused."""
        if self.credentials is None:
            return Scope(account_for_access_key(user), self.region)
        credential = self.credentials.get(user)
        if credential is None or not password_matches(credential.secret, self.region, password):
            return None
        return Scope(credential.account, self.region)

    async def handle_MAIL(self, server, session, envelope, address: str, mail_options: list[str]) -> str:
        """A sender the API would refuse is refused here; `<>` is kept (the From header sends)."""
        if address != NULL_SENDER:
            try:
                parse_address(address, "MAIL FROM")
            except AwsError:
                return INVALID_MAIL_FROM
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options: list[str]) -> str:
        """A recipient the API would refuse is refused here, per RCPT, not at the end of DATA."""
        try:
            parse_address(address, "RCPT TO")
        except AwsError:
            return INVALID_RCPT
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        if any(len(line) > MAX_LINE for line in envelope.original_content.split(b"\r\n")):
            return LINE_TOO_LONG
        if len(envelope.rcpt_tos) > MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        with self._idle:
            self._in_flight += 1
        activity = self.simulator.activity  # a message being received counts as a request being served
        activity.enter()
        try:
            send = _send_call(self.simulator, session.auth_data, envelope.mail_from, envelope.rcpt_tos,
                              envelope.original_content)
            message_id = await asyncio.get_running_loop().run_in_executor(self._executor, send)
        except MailFromDomainNotVerifiedException:
            return "554 Message rejected: Mail FROM domain is not verified"
        except MessageRejected as exc:
            return f"554 Message rejected: {exc.message}"
        except AwsError as exc:  # the content itself: what SES answers at the end of DATA
            return f"554 Transaction failed: {exc.message}"
        except Exception:
            log.exception("storing a message received over SMTP failed")
            return "451 Temporary service failure"
        finally:
            activity.leave()
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()
        return f"250 Ok {message_id}"


def _send_call(simulator, scope: Scope, mail_from: str | None, rcpt_tos: list[str], data: bytes) -> Callable[[], str]:
    """The one call into the facade's send path: the session's MAIL FROM is the sender
    (SES takes it from there), the RCPT TOs are the recipients, the DATA is raw MIME."""
    recipients = list(rcpt_tos)
    sender = None if mail_from in (None, "", NULL_SENDER) else mail_from
    return lambda: simulator.send_email(scope, from_address=sender,
                                        destination={"ToAddresses": recipients},
                                        content={"Raw": {"Data": data}}, via="smtp")
