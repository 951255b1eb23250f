"""SigV4 verification for `--auth strict`, with botocore's own signer: the request is
rebuilt as the client signed it (its signed headers, its X-Amz-Date, the raw URI and
body) and signed again with the secret from the credentials file; the signatures are
compared in constant time. No hand-rolled crypto.
"""
from __future__ import annotations

import hmac
import re
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from flask import request

from ..core.errors import InvalidSignatureException, MissingAuthenticationToken, UnrecognizedClientException
from ..credentials import Credential

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/"
    r"(?P<service>[a-z0-9-]+)/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;_.-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\s*$")
_TIMESTAMP = re.compile(r"^\d{8}T\d{6}Z$")
INVALID_TOKEN = "The security token included in the request is invalid."
BAD_SIGNATURE = ("The request signature we calculated does not match the signature you provided. "
                 "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")


def _raw_uri(environ: dict) -> str:
    """The request target as the client sent it. The HTTP server (granian) gives no raw URI,
    so the path is encoded again as SigV4 clients encode it (RFC 3986 unreserved characters
    and "/" left as they are); an encoded "/" inside a segment cannot be told from a "/"."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        return raw
    path = quote(environ.get("PATH_INFO", "").encode("latin-1"), safe="/~")
    query = environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def verify(credentials: dict[str, Credential]) -> Credential:
    """The credential that signed this request; raises the AWS error otherwise."""
    header = request.headers.get("Authorization")
    if not header:
        raise MissingAuthenticationToken("Missing Authentication Token")
    match = _AUTHORIZATION.match(header)
    if match is None:
        raise InvalidSignatureException(f"Authorization header is not a valid AWS4-HMAC-SHA256 signature. {BAD_SIGNATURE}")
    credential = credentials.get(match["key"])
    if credential is None:
        raise UnrecognizedClientException(INVALID_TOKEN)
    timestamp = request.headers.get("X-Amz-Date", "")
    signed = match["headers"].split(";")
    if not _TIMESTAMP.match(timestamp) or timestamp[:8] != match["date"] or "host" not in signed:
        raise InvalidSignatureException(BAD_SIGNATURE)
    headers = []
    for name in signed:
        values = request.headers.getlist(name)
        if not values:
            raise InvalidSignatureException(BAD_SIGNATURE)
        headers.extend((name, value) for value in values)
    raw_uri = _raw_uri(request.environ)
    rebuilt = AWSRequest(method=request.method, url=f"http://{request.headers['Host']}{raw_uri}",
                         data=request.get_data(cache=True))
    for name, value in headers:
        rebuilt.headers[name] = value  # an email.message-style map: this appends, as repeated headers do
    rebuilt.context["timestamp"] = timestamp
    signer = SigV4Auth(Credentials(credential.access_key, credential.secret), match["service"], match["region"])
    expected = signer.signature(signer.string_to_sign(rebuilt, signer.canonical_request(rebuilt)), rebuilt)
    if not hmac.compare_digest(expected, match["signature"]):
        raise InvalidSignatureException(BAD_SIGNATURE)
    return credential
