"""The SMTP interface's TLS: a self-signed certificate made at first start (kept in the
data directory and reused afterwards), or the operator's own `--smtp-cert/--smtp-key`.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
import ssl

CERT_FILE = "mailfrom-sim-smtp.crt"
KEY_FILE = "mailfrom-sim-smtp.key"


def ensure_self_signed(directory: str, host: str) -> tuple[str, str]:
    """The certificate and key in `directory`, generated there if they are not yet."""
    cert_path, key_path = os.path.join(directory, CERT_FILE), os.path.join(directory, KEY_FILE)
    if os.path.exists(cert_path) and os.path.exists(key_path):
        return cert_path, key_path
    cert_pem, key_pem = _self_signed(host)
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the key is for us only
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_pem)
    with open(cert_path, "wb") as handle:
        handle.write(cert_pem)
    return cert_path, key_path


def _self_signed(host: str) -> tuple[bytes, bytes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                     x509.IPAddress(ipaddress.ip_address("::1"))]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        if host and host != "localhost":
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailfrom-sim SMTP (self-signed)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(names))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(cert_path: str, key_path: str) -> ssl.SSLContext:
    """A server-side TLS context; an unreadable or mismatched pair raises (ssl.SSLError is an OSError)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context
