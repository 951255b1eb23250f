"""`GET /_sim/outbox` is paged and bounded in bytes (SPEC §14): one page's raw messages
stay within the budget, the rest are served one by one by `GET /_sim/outbox/{id}/raw`."""
import urllib.request

from simulator.service import OUTBOX_RAW_BUDGET


def send_raw(sesv2, size: int, n: int) -> str:
    body = ("x" * 76 + "\r\n") * (size // 78)
    raw = (f"From: a@example.com\r\nTo: b@example.org\r\nSubject: big {n}\r\n\r\n{body}").encode()
    return sesv2.send_email(Content={"Raw": {"Data": raw}})["MessageId"]


def test_a_page_carries_raw_messages_up_to_the_budget_and_pages_on(endpoint, sesv2, control):
    sesv2.create_email_identity(EmailIdentity="example.com")
    size = OUTBOX_RAW_BUDGET // 3 + 1024  # two fit in one page's budget, three do not
    sent = [send_raw(sesv2, size, n) for n in range(4)]

    page = control.ok("GET", "/_sim/outbox?limit=3")
    newest = page["messages"]
    assert [m["message_id"] for m in newest] == sent[::-1][:3]
    assert [m["raw"] is not None for m in newest] == [True, True, False]
    assert newest[2]["raw_omitted"] is True and newest[2]["raw_size"] > size
    assert sum(len(m["raw"]) for m in newest[:2]) <= OUTBOX_RAW_BUDGET
    with urllib.request.urlopen(f"{endpoint}/_sim/outbox/{newest[2]['message_id']}/raw", timeout=30) as response:
        assert len(response.read()) == newest[2]["raw_size"]

    rest = control.ok("GET", f"/_sim/outbox?limit=3&before={page['next']}")
    assert [m["message_id"] for m in rest["messages"]] == [sent[0]] and "next" not in rest
    assert "Subject: big 0" in rest["messages"][0]["raw"]


def test_a_bad_before_is_a_validation_error(control):
    for before in ("x", "-1", "1e3", "9" * 40):
        status, answer = control.call("GET", f"/_sim/outbox?before={before}")
        assert status == 400 and answer["error"]["code"] == "VALIDATION_ERROR", before
