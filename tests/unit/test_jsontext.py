"""simulator/store/jsontext.py: orjson for the outbox rows' JSON, `json` for what orjson
refuses; whatever either wrote, the other reads back as the same value."""
import json

from simulator.store import jsontext

ENTRY = {"message_id": "0100-abc", "subject": "Grüße ✓", "destinations": ["a@example.org"],
         "sent_at": 1796333854.0455773, "reason": None, "n": 3, "ok": True}


def test_an_entry_survives_both_ways():
    assert jsontext.loads(jsontext.dumps(ENTRY)) == ENTRY
    assert jsontext.loads(json.dumps(ENTRY)) == ENTRY  # a row an earlier version wrote
    assert json.loads(jsontext.dumps(ENTRY)) == ENTRY


def test_what_orjson_refuses_goes_through_json():
    odd = {"subject": "bad \udcff byte", "big": 1 << 70}  # surrogateescape'd header text; a huge integer
    text = jsontext.dumps(odd)
    assert "\\udcff" in text  # json's escape: orjson refuses the lone surrogate
    assert jsontext.loads(text) == odd
    assert jsontext.loads('{"x": NaN}')["x"] != jsontext.loads('{"x": NaN}')["x"]  # NaN, as json reads it
