"""Filing Risk Monitor: new China-export-risk and inventory warnings in SEC filings."""

__version__ = "0.1.0"
