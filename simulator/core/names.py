"""Names: the one domain normaliser, the one host-name validator and the one
HOST:PORT parser. Pure: no I/O, no dnspython.

Every edge that takes a domain (the APIs, the zone, the scenario runner, the
`check` command) normalises it here, so "Mail.Example.com." and
"mail.example.com" are the same name everywhere.
"""
from __future__ import annotations

import re

__all__ = ["normalize_domain", "host_name_problem", "is_region_name", "parse_host_port", "host_port_text"]

# A host name label (RFC 1123): letters, digits and inner hyphens.
_HOST_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# A DNS owner name label also takes underscores (_dmarc, _domainkey, _amazonses).
_DNS_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


# An AWS region name: us-east-1, eu-west-1, ap-southeast-2, us-gov-west-1, ...
_REGION = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d+$")


def is_region_name(value: object) -> bool:
    return isinstance(value, str) and bool(_REGION.match(value))


def normalize_domain(name: str) -> str:
    """Domain comparison is case-insensitive and ignores surrounding blanks and one trailing dot."""
    name = name.strip()
    if name.endswith("."):
        name = name[:-1]
    return name.lower()


def host_name_problem(name: str, *, dns_labels: bool = False, subject: str = "the domain",
                      min_labels: int = 2) -> str | None:
    """Why `name` (already normalised) is not a valid host name, or None.

    `dns_labels`: judge it as a DNS owner name instead (what the embedded zone
    holds): underscores allowed, one label enough, a numeric last label allowed.
    `subject` is what the messages call the name; `min_labels` how many labels
    it needs (1: a bare label such as "com" is a host name, for callers that
    refuse it with their own words).
    """
    if not name:
        return f"{subject} is empty"
    if not name.isascii():
        return f"{subject} contains non-ASCII characters"
    if len(name) > 253:
        return f"{subject} is longer than 253 characters"
    labels = name.split(".")
    if len(labels) < min_labels and not dns_labels:
        return f"{subject} needs at least two labels"
    pattern = _DNS_LABEL if dns_labels else _HOST_LABEL
    for label in labels:
        if not label:
            return f"{subject} has an empty label"
        if len(label) > 63:
            return f"the label '{label[:20]}...' is longer than 63 characters"
        if not pattern.match(label):
            return f"the label '{label}' has characters a {'DNS' if dns_labels else 'host'} name cannot have"
    if labels[-1].isdigit() and not dns_labels:
        return "an IP address is not a domain"
    return None


def host_port_text(host: str, port: int) -> str:
    """'127.0.0.1:53', '[::1]:53': the inverse of `parse_host_port`."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_host_port(spec: object, default_port: int | None = None) -> tuple[str, int]:
    """`HOST:PORT` or `[IPV6]:PORT` -> (host, port); ValueError saying what is wrong.

    With `default_port`, the port may be left out (`HOST`, `[IPV6]`). The host
    is returned as written (brackets removed); whether it resolves is the
    caller's business.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("it is empty")
    text = spec.strip()
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket:
            raise ValueError("the '[' has no closing ']'")
        if rest == "" and default_port is not None:
            port_text = None
        elif rest.startswith(":"):
            port_text = rest[1:]
        else:
            raise ValueError("write an IPv6 address as [ADDRESS]:PORT")
    else:
        host, colon, port_text = text.rpartition(":")
        if not colon:
            if default_port is None:
                raise ValueError("the port is missing (HOST:PORT)")
            host, port_text = text, None
        elif ":" in host:
            raise ValueError("write an IPv6 address as [ADDRESS]:PORT")
    if not host or any(ch.isspace() for ch in host):
        raise ValueError("the host is missing or has blanks in it")
    if port_text is None:
        return host, default_port
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return host, int(port_text)
