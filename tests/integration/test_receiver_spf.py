"""The receiver's SPF results kept between messages (real DNS packets to the embedded server):
reused only while the zone is unchanged, and never over a record holding a macro, whose
result may depend on the sender's local part."""
from simulator.lookup.records import RecordResolver
from simulator.mailauth.receiver import Receiver

IP = "192.0.2.10"


def receiver(dns_server, dns_zone) -> Receiver:
    return Receiver(RecordResolver(dns_server.address, 2.0, lambda: dns_zone.generation), budget=2.0)


def spf(receiver_: Receiver, sender: str) -> str:
    message = f"From: {sender}\r\nTo: user@example.org\r\nSubject: spf\r\n\r\nhello\r\n".encode()
    return receiver_.authenticate(message, sender, client_ip=IP).spf.result


def test_a_record_with_a_macro_is_evaluated_for_each_sender(dns_server, dns_zone):
    dns_zone.add("macro.example.com", "TXT", "v=spf1 exists:%{l}.allowed.example.com -all")
    dns_zone.add("alice.allowed.example.com", "A", "127.0.0.2")
    checks = receiver(dns_server, dns_zone)
    assert spf(checks, "alice@macro.example.com") == "pass"
    assert spf(checks, "bob@macro.example.com") == "fail"
    assert spf(checks, "alice@macro.example.com") == "pass"


def test_a_kept_result_goes_when_the_zone_changes(dns_server, dns_zone):
    record = dns_zone.add("plain.example.com", "TXT", f"v=spf1 ip4:{IP} -all")
    checks = receiver(dns_server, dns_zone)
    assert spf(checks, "one@plain.example.com") == "pass"
    assert spf(checks, "two@plain.example.com") == "pass"  # kept: same domain, no macro
    dns_zone.remove(record["id"])
    dns_zone.add("plain.example.com", "TXT", "v=spf1 -all")
    assert spf(checks, "three@plain.example.com") == "fail"
