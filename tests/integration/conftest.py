"""DNS fixtures: the embedded server on a free loopback port, and BIND 9."""
import pytest

from tests.integration.bind import BindServer, named_path
from simulator.nameserver.server import EmbeddedDnsServer
from simulator.nameserver.stored import StoredRecords
from simulator.nameserver.zone import Zone
from simulator.store import Store


@pytest.fixture(params=["in memory", "in a store"])
def dns_zone(request, tmp_path):
    """A zone holding its records in memory, or reading them from a database per name
    (as `serve` runs it) with a cache small enough that the tests' names overflow it."""
    if request.param == "in memory":
        yield Zone()
        return
    store = Store(str(tmp_path / "zone.db"))
    try:
        yield Zone(StoredRecords(store), cache_names=32)
    finally:
        store.close()


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
