"""A throwaway BIND 9 primary for tests: one dynamic zone served on loopback at
a free port, changed with RFC 2136 updates. It owns the named process, its
config and its files (all under one temporary directory).
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.update

NAMED = "named"
START_TIMEOUT = 15.0

NAMED_CONF = """\
options {{
    directory "{workdir}";
    pid-file "{workdir}/named.pid";
    session-keyfile "{workdir}/session.key";
    managed-keys-directory "{workdir}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    allow-query {{ any; }};
    dnssec-validation no;
    notify no;
}};
controls {{ }};
zone "{zone}" {{
    type primary;
    file "{workdir}/{zone}.db";
    allow-update {{ 127.0.0.1; }};
}};
"""

ZONE_FILE = """\
$TTL 60
@   IN SOA ns.{zone}. hostmaster.{zone}. ( 1 60 60 600 1 )
@   IN NS  ns.{zone}.
ns  IN A   127.0.0.1
"""


def named_path() -> str | None:
    return shutil.which(NAMED) or shutil.which(NAMED, path="/usr/sbin:/usr/local/sbin:/sbin")


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no free port for BIND")


class BindServer:
    """`named -g` serving `zone` from `workdir`; start(), update(), delete(), stop()."""

    def __init__(self, workdir: Path, zone: str = "example.com") -> None:
        self.workdir = Path(workdir)
        self.zone = zone.rstrip(".").lower()
        self.host = "127.0.0.1"
        self.port = 0
        self._process: subprocess.Popen | None = None
        self._log = None

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def log_text(self) -> str:
        path = self.workdir / "named.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> "BindServer":
        binary = named_path()
        if binary is None:
            raise RuntimeError("named is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        conf = self.workdir / "named.conf"
        conf.write_text(NAMED_CONF.format(workdir=self.workdir, port=self.port, zone=self.zone))
        (self.workdir / f"{self.zone}.db").write_text(ZONE_FILE.format(zone=self.zone))
        # No "-u": named keeps the invoking user, root included, and that user
        # owns workdir, where named writes its pid file and update journal.
        # "-n 1": one worker thread is plenty and spares a shared CI box.
        command = [binary, "-g", "-n", "1", "-c", str(conf)]
        self._log = open(self.workdir / "named.log", "wb")
        self._process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir
        )
        try:
            self._wait_until_serving()
        except Exception:
            self.stop()
            raise
        return self

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        query = dns.message.make_query(self.zone, dns.rdatatype.SOA)
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"named exited with {self._process.returncode}:\n{self.log_text[-3000:]}")
            try:
                response = dns.query.udp(query, self.host, port=self.port, timeout=0.2)
                if response.rcode() == dns.rcode.NOERROR and response.answer:
                    return
            except Exception:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"named did not answer within {START_TIMEOUT} s:\n{self.log_text[-3000:]}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "BindServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # --- RFC 2136 --------------------------------------------------------------

    def update(self, name: str, rdtype: str, value: str, ttl: int = 60) -> None:
        """Add one record (TXT `value` is the raw text, MX `"10 host."`)."""
        message = dns.update.UpdateMessage(self.zone)
        message.add(self._owner(name), ttl, _rdata(rdtype, value))
        self._send(message)

    def delete(self, name: str, rdtype: str | None = None, value: str | None = None) -> None:
        """Delete the name's records of `rdtype` (one record if `value` is given; all if no type)."""
        message = dns.update.UpdateMessage(self.zone)
        owner = self._owner(name)
        if rdtype is None:
            message.delete(owner)
        elif value is None:
            message.delete(owner, rdtype)
        else:
            message.delete(owner, _rdata(rdtype, value))
        self._send(message)

    def _owner(self, name: str) -> dns.name.Name:
        owner = dns.name.from_text(name)
        if not owner.is_subdomain(dns.name.from_text(self.zone)):
            raise ValueError(f"{name} is not in zone {self.zone}")
        return owner

    def _send(self, message: dns.update.UpdateMessage) -> None:
        response = dns.query.tcp(message, self.host, port=self.port, timeout=5)
        if response.rcode() != dns.rcode.NOERROR:
            raise RuntimeError(f"RFC 2136 update refused: {dns.rcode.to_text(response.rcode())}")


def _rdata(rdtype: str, value: str) -> dns.rdata.Rdata:
    kind = dns.rdatatype.from_text(rdtype)
    if kind == dns.rdatatype.TXT:
        raw = value.encode()
        chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
        return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, kind, chunks)
    # Names without a final dot are taken as absolute, not relative to the zone.
    return dns.rdata.from_text(dns.rdataclass.IN, kind, value, origin=dns.name.root, relativize=False)
