"""Everything that talks to EDGAR (live, a loopback server, or a mirror directory)."""
