"""checks/run's body is serialised a piece at a time, and reads exactly as one json.dumps."""
from __future__ import annotations

import json

from simulator.api.control import LIST_PIECE, ok, ok_lists


def test_the_same_bytes_as_one_dumps_across_pieces():
    checks = [{"identity": f"d{i}.example.com", "lookup": {"answers": ["10 x."], "error": None}, "at": i / 7}
              for i in range(2 * LIST_PIECE + 3)]
    for data in ({"checks": checks, "skipped": []}, {"checks": checks[:LIST_PIECE], "skipped": checks[:1]},
                 {"checks": [], "skipped": []}, {}):
        assert ok_lists(data).get_data() == ok(data).get_data()
        assert json.loads(ok_lists(data).get_data()) == {"success": True, "data": data}
