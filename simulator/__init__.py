"""mailfrom-sim: a local, wire-compatible simulator of Amazon SES custom MAIL FROM domains."""

__version__ = "0.1.0"
