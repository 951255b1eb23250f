"""Every acknowledged write survives a restart of the real process on the same database."""
from tests.helpers import SimControl, SimulatorProcess, aws_client


def test_identities_configs_history_clock_and_dns_survive_a_restart(tmp_path):
    db = str(tmp_path / "sim.db")
    first = SimulatorProcess("--db", db).start()
    try:
        sesv2 = aws_client("sesv2", first.url)
        sesv2.create_email_identity(EmailIdentity="example.com")
        sesv2.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="mail.example.com",
                                                      BehaviorOnMxFailure="REJECT_MESSAGE")
        control = SimControl(first.url)
        control.add_mx("other.example.com")
        offset = control.ok("POST", "/_sim/clock/advance", {"seconds": 30})["offset"]
        history = control.history("example.com")
    finally:
        first.stop("kill")  # no clean shutdown: acknowledged writes must already be durable
    second = SimulatorProcess("--db", db).start()
    try:
        sesv2 = aws_client("sesv2", second.url)
        control = SimControl(second.url)
        assert sesv2.get_email_identity(EmailIdentity="example.com")["MailFromAttributes"] == {
            "MailFromDomain": "mail.example.com", "MailFromDomainStatus": "PENDING",
            "BehaviorOnMxFailure": "REJECT_MESSAGE"}
        assert control.history("example.com") == history
        assert control.ok("GET", "/_sim/clock")["offset"] == offset
        assert [r["name"] for r in control.ok("GET", "/_sim/dns/records")["records"]] == ["other.example.com"]
    finally:
        second.stop()


def test_sigterm_stops_cleanly(tmp_path):
    process = SimulatorProcess("--db", str(tmp_path / "sim.db")).start()
    aws_client("sesv2", process.url).create_email_identity(EmailIdentity="example.com")
    output = process.stop()
    assert process.process.returncode == 0 and "stopped" in output


def test_sigterm_under_load_keeps_every_acknowledged_write(tmp_path):
    import threading
    import time

    db = str(tmp_path / "sim.db")
    process = SimulatorProcess("--db", db).start()
    acknowledged: list[str] = []
    stop = threading.Event()

    def writer(worker: int) -> None:
        client = aws_client("sesv2", process.url)
        for i in range(10_000):
            if stop.is_set():
                return
            name = f"w{worker}-{i}.example.com"
            try:
                client.create_email_identity(EmailIdentity=name)
            except Exception:
                return  # the server is going away; this write was not acknowledged
            acknowledged.append(name)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    output = process.stop()  # SIGTERM while the writers are still sending
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert acknowledged and process.process.returncode == 0
    assert "Traceback" not in output and "Bad file descriptor" not in output, output

    restarted = SimulatorProcess("--db", db).start()
    try:
        client = aws_client("sesv2", restarted.url)
        stored, token = set(), None
        while True:
            page = client.list_email_identities(PageSize=1000, **({"NextToken": token} if token else {}))
            stored |= {i["IdentityName"] for i in page["EmailIdentities"]}
            token = page.get("NextToken")
            if not token:
                break
        assert set(acknowledged) <= stored
    finally:
        restarted.stop()
