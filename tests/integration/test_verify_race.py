"""v1 Verify*Identity creates the identity unless it exists; a concurrent Verify and Delete
must not make it answer "does not exist". The interleaving is forced in-process: the
server is real (HTTP, boto3), only the order of the two requests' steps is arranged."""
from simulator.runtime import Options, Runtime
from tests.helpers import aws_client


def test_verify_racing_a_create_then_a_delete_still_creates():
    runtime = Runtime(Options(port=0, dns_port=0, db=":memory:")).start()
    try:
        facade = runtime.simulator
        original = facade.create_identity
        raced = []

        def create_identity(scope, raw_name, **kwargs):
            if not raced:  # another Verify creates it first, then a Delete removes it
                raced.append(raw_name)
                original(scope, raw_name, **kwargs)
                try:
                    return original(scope, raw_name, **kwargs)  # AlreadyExists, as for the loser
                finally:
                    facade.delete_identity(scope, raw_name)
            return original(scope, raw_name, **kwargs)

        facade.create_identity = create_identity
        ses = aws_client("ses", runtime.url)
        assert ses.verify_domain_identity(Domain="example.com")["VerificationToken"]
        assert raced == ["example.com"]
        assert ses.list_identities()["Identities"] == ["example.com"]
    finally:
        runtime.stop()
