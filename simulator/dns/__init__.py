"""The DNS edge: the embedded authoritative server's zone and wire handling,
and the resolver adapter that turns dnspython answers into an `MxLookup`."""
