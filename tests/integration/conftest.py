"""DNS fixtures: the embedded server on a free loopback port, and BIND 9."""
import pytest

from tests.integration.bind import BindServer, named_path
from simulator.nameserver.server import EmbeddedDnsServer
from simulator.nameserver.zone import Zone


@pytest.fixture
def dns_zone():
    return Zone()


@pytest.fixture
def dns_server(dns_zone):
    """The embedded server for `dns_zone`, on 127.0.0.1 and a free port."""
    with EmbeddedDnsServer(dns_zone, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture(scope="module")
def bind_server(tmp_path_factory):
    """A real BIND 9 primary for example.com, changed by RFC 2136 updates.

    Shared by a module's tests to start named once; tests use distinct names.
    """
    if named_path() is None:
        pytest.skip("BIND 9 'named' is not installed (apt-get install bind9)")
    with BindServer(tmp_path_factory.mktemp("bind"), zone="example.com") as server:
        yield server
