"""The user's DNS records as the embedded zone reads and writes them in the
simulator's database (the store's dns_records table): read per name as the
zone is asked about it, written through the store's one write API. So the zone
holds only the names asked about lately, whatever the database holds, and a
start-up reads none of them.
"""
from __future__ import annotations

from simulator.ports import Store

__all__ = ["StoredRecords"]


class StoredRecords:
    """A `zone.RecordStore` over the simulator's store."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def records_at(self, name: str) -> list[dict]:
        return self._store.dns_records_at(name)

    def has_names_below(self, name: str) -> bool:
        return self._store.dns_names_below(name)

    def records_among(self, names: list[str]) -> dict[str, list[dict]]:
        return self._store.dns_records_among(names)

    def names_below_among(self, names: list[str]) -> set[str]:
        return self._store.dns_names_below_among(names)

    def record(self, id: str) -> dict | None:
        return self._store.dns_record(id)

    def records(self) -> list[dict]:
        return self._store.dns_records()

    def add(self, record: dict) -> None:
        self._store.write(lambda tx: self._store.add_dns_record(tx, record))

    def remove(self, id: str) -> None:
        self._store.write(lambda tx: self._store.remove_dns_record(tx, id))

    def clear(self) -> None:
        self._store.write(self._store.clear_dns_records)
