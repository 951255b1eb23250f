"""The pure core: rules, state machine, clock and errors. No I/O imports live here."""
