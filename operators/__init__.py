"""Operators and the plain-Python machinery behind them (HTTP client, backend process, import)."""
