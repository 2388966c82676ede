"""The monitor's errors: one tree, branched by cause.

    MonitorError
    ├── ConfigError          settings, watchlist or usage are wrong; nothing was attempted
    │   └── UnknownTickerError   a ticker that EDGAR's ticker list does not know
    ├── FetchError           EDGAR gave no usable answer (url, status_code)
    │   ├── NotFoundError        the source has no such document (404/410): `unavailable`
    │   └── ThrottledError       EDGAR still throttles after the retry bound: `pending`
    ├── ParseError           bytes arrived but no Document could be built (accession_number)
    └── DeliveryError        the digest or alert was not sent

Every message names what failed, for which identifier, and what to do next.
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the monitor raises on purpose."""


class ConfigError(MonitorError):
    """Settings, watchlist or command-line usage are wrong."""


class UsageError(ConfigError):
    """A command was given what it cannot work with (exit status 2, like configuration)."""


class UnknownTickerError(ConfigError):
    def __init__(self, ticker: str) -> None:
        super().__init__(
            f"unknown ticker {ticker!r}: not in EDGAR's company_tickers.json; "
            "check the spelling or give its CIK in the watchlist (cik = ...)"
        )
        self.ticker = ticker


class FetchError(MonitorError):
    """EDGAR (or the configured source) gave no usable answer for `url`."""

    def __init__(self, message: str, *, url: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status_code = status_code


class NotFoundError(FetchError):
    """The source has no such document; the filing is `unavailable`, not failed."""


class ThrottledError(FetchError):
    """EDGAR kept refusing past the retry bound; stop fetching for this run."""


class ParseError(MonitorError):
    def __init__(self, message: str, *, accession_number: str | None = None) -> None:
        super().__init__(message)
        self.accession_number = accession_number


class DeliveryError(MonitorError):
    """The digest or alert was not delivered; it stays pending."""
