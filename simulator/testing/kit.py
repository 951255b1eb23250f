"""`MailFromSim`: one running simulator and the moves a test makes against it.

Everything goes over the simulator's public surface (the AWS APIs through boto3,
`/_sim` over HTTP), exactly as a test talking to a separately started
`mailfrom-sim serve` would; only starting and stopping touch the `Runtime`.
Nothing heavy is imported until a simulator is started or a client is made.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ..core.names import normalize_domain
from ..core.verdicts import feedback_host

DUMMY_KEY = "testing"  # any non-12-digit access key is account 000000000000


class SimCallError(RuntimeError):
    """A `/_sim` call answered `{"success": false, ...}`; `.code` is its error code."""

    def __init__(self, method: str, path: str, status: int, code: str, message: str):
        super().__init__(f"{method} {path} -> {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class _Control:
    """The `/_sim` JSON envelope over HTTP."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        params = {k: v for k, v in query.items() if v is not None}
        url = self.url + "/_sim" + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, payload = response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            status, payload = error.code, json.loads(error.read() or b"{}")
        if payload.get("success") is not True:
            problem = payload.get("error") or {}
            raise SimCallError(method, path, status, problem.get("code", "?"), problem.get("message", str(payload)))
        return payload["data"]


class Dns:
    """The embedded DNS zone (`/_sim/dns`)."""

    def __init__(self, control: _Control):
        self._control = control

    def records(self) -> list[dict]:
        return self._control.call("GET", "/dns/records")["records"]

    def add(self, name: str, type: str, value: str, ttl: int | None = None) -> str:
        """Add a record (MX value "10 host", TXT value the text); returns its id."""
        body = {"name": name, "type": type, "value": value, **({"ttl": ttl} if ttl is not None else {})}
        return self._control.call("POST", "/dns/records", body)["id"]

    def remove(self, name_or_id: str, type: str | None = None) -> int:
        """Remove one record by id, or every record of a name (of one type if given); returns how many."""
        records = self.records()
        matching = [r for r in records if r["id"] == name_or_id] or [
            r for r in records
            if normalize_domain(r["name"]) == normalize_domain(name_or_id)
            and (type is None or r["type"].upper() == type.upper())]
        for record in matching:
            self._control.call("DELETE", f"/dns/records/{record['id']}")
        return len(matching)

    def fault(self, name: str, fault: str | None) -> None:
        """Make the server answer `timeout`, `servfail` or `refused` for a name and below; None clears."""
        self._control.call("PUT", "/dns/faults/" + urllib.parse.quote(name), {"fault": fault or "none"})


class MailFromSim:
    """A running simulator, as the `mailfrom_sim` fixture hands it to a test."""

    def __init__(self, endpoint_url: str, dns_address: str | None = None, runtime: Any = None):
        self.endpoint_url = endpoint_url.rstrip("/")
        self.dns_address = dns_address  # "127.0.0.1:PORT" of the embedded DNS server
        self._runtime = runtime
        self._control = _Control(self.endpoint_url)
        self.dns = Dns(self._control)

    # --- lifecycle -------------------------------------------------------------
    @classmethod
    def start(cls, **options: Any) -> "MailFromSim":
        """Start an in-process simulator: free ports, in-memory store, no SMTP interface and no
        background checks (only `advance` and `run_checks` check), unless `options` say otherwise."""
        from ..runtime import Options, Runtime

        settings = {"port": 0, "dns_port": 0, "db": ":memory:", "scheduler": False, **options}
        runtime = Runtime(Options(**settings)).start()
        return cls(runtime.url, runtime.dns_address, runtime)

    def stop(self) -> None:
        if self._runtime is not None:
            self._runtime.stop()
            self._runtime = None

    def __enter__(self) -> "MailFromSim":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def reset(self) -> None:
        """Empty everything: identities, DNS records and faults, outbox, clock offset, sandbox."""
        self._control.call("POST", "/reset")

    # --- AWS clients -------------------------------------------------------------
    def client(self, service: str, region: str = "us-east-1", account: str | None = None):
        """A boto3 client (`sesv2`, `pinpoint-email`, `ses`) bound to the simulator with dummy
        credentials; a 12-digit `account` becomes the access key, which the simulator takes
        as the account id."""
        from botocore.config import Config

        from ..models import boto3_session

        if account is not None and not (len(account) == 12 and account.isdigit()):
            raise ValueError(f"account must be 12 digits, not {account!r}")
        return boto3_session().client(service, endpoint_url=self.endpoint_url, region_name=region,
                            aws_access_key_id=account or DUMMY_KEY, aws_secret_access_key=DUMMY_KEY,
                            config=Config(retries={"max_attempts": 1}))

    # --- the common moves ---------------------------------------------------------
    def publish_mail_from(self, identity: str, region: str = "us-east-1", account: str | None = None) -> dict:
        """Publish `10 feedback-smtp.<region>.amazonses.com` as the MX of the identity's MAIL FROM
        domain and check it now; returns the identity's MailFromAttributes (SUCCESS).

        Raises SimCallError if the check does not end in SUCCESS (another MX published for the
        name, a DNS fault, ...), so a test never goes on believing it did."""
        attributes = self.mail_from_attributes(identity, region, account)
        domain = attributes.get("MailFromDomain")
        if not domain:
            raise ValueError(f"identity {identity!r} has no MAIL FROM domain in {region}; "
                             "put one with PutEmailIdentityMailFromAttributes first")
        exchange = feedback_host(region)
        published = any(normalize_domain(r["name"]) == normalize_domain(domain) and r["type"] == "MX"
                        and r["value"].rstrip(".").split()[-1].lower() == exchange for r in self.dns.records())
        if not published:
            self.dns.add(domain, "MX", f"10 {exchange}")
        self.run_checks(identity, region=region, account=account)
        attributes = self.mail_from_attributes(identity, region, account)
        if attributes.get("MailFromDomainStatus") != "SUCCESS":
            raise SimCallError("POST", "/checks/run", 200, "NOT_SUCCESS",
                               f"{domain} is {attributes.get('MailFromDomainStatus')} after publishing its MX; "
                               f"the zone holds {self.dns.records()}")
        return attributes

    def mail_from_attributes(self, identity: str, region: str = "us-east-1", account: str | None = None) -> dict:
        return self.client("sesv2", region, account).get_email_identity(EmailIdentity=identity)["MailFromAttributes"]

    def advance(self, seconds: float) -> dict:
        """Move simulated time forward, running every check and deadline that falls due;
        returns {"now", "offset", "checked", "transitions", ...}."""
        return self._control.call("POST", "/clock/advance", {"seconds": seconds})

    def run_checks(self, identity: str | None = None, region: str = "us-east-1",
                   account: str | None = None) -> list[dict]:
        """Check now, due or not: one identity, or every configuration of the account and region."""
        body = {"identity": identity} if identity is not None else {}
        return self._control.call("POST", "/checks/run", body, region=region, account=account)["checks"]

    def outbox(self, region: str = "us-east-1", account: str | None = None, limit: int = 100) -> list[dict]:
        """Sent and rejected messages, newest first (`envelope_from`, `mail_from_decision`, `raw`, ...)."""
        return self._control.call("GET", "/outbox", region=region, account=account, limit=limit)["messages"]

    def history(self, identity: str, region: str = "us-east-1", account: str | None = None) -> list[dict]:
        return self._control.call("GET", f"/identities/{urllib.parse.quote(identity)}/history",
                                  region=region, account=account)["history"]

    def set_sandbox(self, on: bool, region: str = "us-east-1", account: str | None = None) -> dict:
        return self._control.call("PUT", "/account", {"sandbox": on}, region=region, account=account)

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> Any:
        """Any other `/_sim` call: `sim.call("GET", "/health")`."""
        return self._control.call(method, path, body, **query)
