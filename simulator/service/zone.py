"""The facade's embedded DNS zone: records and faults, stored first, then served.

A part of the facade (simulator/service/facade.py), which is the only path that
mutates state; the parts share its attributes (store, clock, ports, settings).
"""
from __future__ import annotations

from ..core import names
from ..core.errors import Conflict, SimNotFound, ValidationError
from ..nameserver.zone import DuplicateRecordError


class DnsZone:
    # --- DNS zone -------------------------------------------------------------
    def _zone(self):
        if self.zone is None:
            raise ValidationError("the embedded DNS server is not in use (--resolver is not embedded)")
        return self.zone

    def dns_records(self) -> list[dict]:
        return self._zone().records()

    def dns_faults(self) -> dict[str, str]:
        return self._zone().faults()

    # Each change is stored first and reaches the DNS server only once committed: the zone
    # writes records to the store itself (it reads them from there, nameserver/stored.py);
    # faults are written here. `_dns_lock` keeps what was checked true until then.
    def add_dns_record(self, name: object, type_: object, value: object, ttl: object = 300) -> dict:
        self.settle()  # waiting messages are sealed against the DNS they were sent in
        zone = self._zone()
        with self._dns_lock:
            try:
                added = zone.add(name, type_, value, ttl)  # validates first; ZoneError is a ValueError
            except DuplicateRecordError as exc:
                raise Conflict(str(exc)) from None
            except ValueError as exc:
                raise ValidationError(str(exc)) from None
        self._publish("dns", action="added", record=added)
        return added

    def remove_dns_record(self, record_id: str) -> None:
        self.settle()  # waiting messages are sealed against the DNS they were sent in
        zone = self._zone()
        with self._dns_lock:
            if not zone.remove(record_id):
                raise SimNotFound(f"DNS record {record_id} does not exist")
        self._publish("dns", action="removed", id=record_id)

    def set_dns_fault(self, name: str, fault: object) -> dict:
        self.settle()  # waiting messages are sealed against the DNS they were sent in
        zone = self._zone()
        try:
            normalized, _ = zone.check_fault(names.normalize_domain(name), fault)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        with self._dns_lock:
            self.store.write(lambda tx: self.store.set_dns_fault(tx, normalized, str(fault)))
            zone.set_fault(normalized, fault)
        self._publish("dns", action="fault", name=normalized, fault=fault)
        return {"name": normalized, "fault": fault}

    def clear_dns_fault(self, name: str) -> None:
        self.settle()  # waiting messages are sealed against the DNS they were sent in
        zone = self._zone()
        try:
            normalized, _ = zone.check_fault(names.normalize_domain(name), None)  # a name a fault could be at
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        with self._dns_lock:
            if normalized not in zone.faults():
                raise SimNotFound(f"no fault is set for {normalized}")
            self.store.write(lambda tx: self.store.set_dns_fault(tx, normalized, None))
            zone.clear_fault(normalized)
        self._publish("dns", action="fault", name=normalized, fault=None)

