"""The embedded authoritative DNS server: its zone (records and faults) and the
wire handling that answers queries over UDP and TCP on loopback."""
