"""The resolver client: asks any DNS server (the embedded one, the system's, or
HOST:PORT) with dnspython and reports DNS facts for the core to judge."""
