"""Connection guards: slow or silent clients are cut off, and unauthenticated ones are capped.

uvicorn times out only idle keep-alive connections, so a client that sends half a header (or a
body byte every few seconds after its answer) held its connection, and a file descriptor,
forever. Here every connection must have a request in progress, or have sent the last one's
headers, within ``HEADER_TIMEOUT_S``; and at most ``MAX_UNAUTHENTICATED`` connections that have
not shown the token are open at once: a new one pushes out the oldest, so a local process that
opens connections by the thousand cannot starve the token holder (whose requests carry the
token in their first packet). Bodies have their own timeouts (``app._read_bounded``).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEADER_TIMEOUT_S = 10.0  # to send a request's headers, from connecting or the last answer
KEEP_ALIVE_S = 5  # an idle connection between requests (uvicorn's own timer)
GRACEFUL_SHUTDOWN_S = 0.5  # for open requests to finish once stopping
MAX_HEADER_BYTES = 16 * 1024  # a request line and headers larger than this get 400
MAX_UNAUTHENTICATED = 64  # open connections that have not shown the token
MAX_CONNECTIONS = 512  # uvicorn's limit_concurrency: 503 beyond this many connections or tasks
LOG_REPEAT_S = 10.0  # the same error is logged at most once per this many seconds


class GuardedProtocol(H11Protocol):
    """H11Protocol with the header timeout and the cap on unauthenticated connections.

    ``guarded_protocol`` makes the subclass a server uses, with its token and registry."""

    expected: ClassVar[bytes] = b""
    unauthenticated: ClassVar[OrderedDict[GuardedProtocol, None]]
    _timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        waiting = self.unauthenticated
        waiting[self] = None
        while len(waiting) > MAX_UNAUTHENTICATED:
            oldest, _ = waiting.popitem(last=False)
            oldest.transport.close()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self.unauthenticated.pop(self, None)
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self in self.unauthenticated and self.conn.their_state in (h11.SEND_BODY, h11.DONE):
            given = dict(getattr(self, "headers", None) or []).get(b"authorization", b"")
            if hmac.compare_digest(given, self.expected):
                self.unauthenticated.pop(self, None)

    def send_400_response(self, msg: str) -> None:
        """uvicorn answers a malformed request with 400 even when that request's answer is
        already under way (a bad chunk in a body being read), which raised inside h11 and logged
        a traceback per request. Then the connection is only closed, its request ended."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
            self.transport.close()
            return
        try:
            super().send_400_response(msg)
        except h11.LocalProtocolError:
            self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _arm(self) -> None:
        self._disarm()
        self._timer = self.loop.call_later(HEADER_TIMEOUT_S, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self._arm()  # a request is being answered; the app bounds its own body reads
            return
        self.transport.close()  # no request in flight: headers or a stray body too slow


def guarded_protocol(token: str) -> type[GuardedProtocol]:
    """The protocol class for one server: its token, its own registry of connections."""
    return type("GuardedProtocol", (GuardedProtocol,), {
        "expected": f"Bearer {token}".encode(), "unauthenticated": OrderedDict()})


class RepeatFilter(logging.Filter):
    """Lets the same message through once per LOG_REPEAT_S; says how many it held back.

    Out of file descriptors, asyncio logs a traceback for every failed accept: 4.5 MB in 15 s."""

    def __init__(self, interval_s: float = LOG_REPEAT_S) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = _record_key(record)
        now = time.monotonic()
        if now - self._last.get(key, -1e9) < self.interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._last[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.getMessage()} ({held} more like this not logged)"
            record.args = None
        if record.exc_info and _is_emfile(record.exc_info[1]):
            record.exc_info, record.exc_text = None, None  # one line, not a traceback each time
        return True


def _record_key(record: logging.LogRecord) -> str:
    exc = record.exc_info[1] if record.exc_info else None
    return f"{record.name}:{record.msg}:{type(exc).__name__}:{getattr(exc, 'errno', '')}"


def _is_emfile(exc: Any) -> bool:
    return isinstance(exc, OSError) and exc.errno in (23, 24)  # ENFILE, EMFILE


def quiet_repeated_errors() -> None:
    """Rate-limit the loggers that repeat themselves under a flood (asyncio's accept errors,
    uvicorn's "Invalid HTTP request received")."""
    repeat = RepeatFilter()
    for name in ("asyncio", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(repeat)
