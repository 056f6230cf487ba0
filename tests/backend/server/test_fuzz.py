"""A few thousand malformed HTTP requests against a real server: no 5xx, no crash, no traceback,
memory that stays put. `FUZZ_REQUESTS=20000 pytest tests/backend/server/test_fuzz.py -s` runs a
longer one; the figures are printed either way."""

from __future__ import annotations

import os
import random
import socket
import time
from concurrent.futures import ThreadPoolExecutor

from backend_test_support import ServerProcess, cutout_png, truncated_png

REQUESTS = int(os.environ.get("FUZZ_REQUESTS", "3000"))
METHODS = [b"GET", b"POST", b"DELETE", b"PUT", b"PATCH", b"HEAD", b"OPTIONS", b"TRACE", b"G\x00T",
           b"", b"GET GET", b"\xff\xfe"]
PATHS = [b"/health", b"/jobs", b"/jobs/abc", b"/jobs/abc/result", b"/shutdown-not", b"/",
         b"/jobs/" + b"a" * 5000, b"/%00", b"/jobs/../../etc/passwd", b"*", b"http://x/health",
         b"/jobs?resolution=abc", b"/jobs?resolution=64&predictor=baseline&name=" + b"%ff" * 50,
         b"/jobs?face_budget=-5&keep_sdf=maybe", b"/docs", b"/openapi.json", b"/jobs/%2e%2e"]


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def malformed(rng: random.Random, token: bytes) -> bytes:
    method, path = rng.choice(METHODS), rng.choice(PATHS)
    version = rng.choice([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1\x00", b""])
    headers = [b"Host: 127.0.0.1"]
    if rng.random() < 0.6:
        headers.append(rng.choice([b"Authorization: Bearer " + token, b"Authorization: Bearer x",
                                   b"Authorization: " + token, b"Authorization:"]))
    body = rng.choice([b"", os.urandom(rng.randint(1, 4096)), truncated_png(), b"\x89PNG\r\n",
                       cutout_png(8), b"GIF89a" + os.urandom(200)])
    length = rng.choice([str(len(body)).encode(), b"-1", b"abc", b"99999999999999999999",
                         str(len(body) + 10).encode(), b"0", None])
    if length is not None:
        headers.append(b"Content-Length: " + length)
    if rng.random() < 0.1:
        headers.append(b"Transfer-Encoding: chunked")
        body = rng.choice([b"zz\r\n", b"5\r\nabc\r\n0\r\n\r\n", b"ffffffffffff\r\nab"])
    if rng.random() < 0.05:
        headers.append(b"X-Big: " + b"a" * rng.randint(10_000, 70_000))
    if rng.random() < 0.05:
        headers.append(os.urandom(40))
    head = method + b" " + path + b" " + version + b"\r\n" + b"\r\n".join(headers) + b"\r\n\r\n"
    data = head + body
    if rng.random() < 0.1:
        data = data[: rng.randint(1, len(data))]  # cut short anywhere
    return data


def send(port: int, data: bytes) -> int:
    """The status code the server answered with; 0 for a closed connection without an answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while len(answer) < 16 and (chunk := sock.recv(4096)):
                answer += chunk
    except OSError:
        return 0
    parts = answer.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def test_fuzzed_requests(tmp_path):
    srv = ServerProcess(tmp_path / "fuzz", ("--max-upload-mb", "2"))
    try:
        assert srv.get("/health").status_code == 200
        port = int(srv.state["port"])
        before = rss_kb(srv.proc.pid)
        rng = random.Random(32)
        requests = [malformed(rng, srv.token.encode()) for _ in range(REQUESTS)]
        began = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda data: send(port, data), requests))
        took = time.monotonic() - began
        assert srv.get("/health").status_code == 200
        assert srv.proc.poll() is None
        after = rss_kb(srv.proc.pid)
        server_errors = [c for c in codes if c >= 500]
        counts = {c: codes.count(c) for c in sorted(set(codes))}
        print(f"\nfuzz: {len(codes)} requests in {took:.1f} s, status counts {counts}, "
              f"5xx {len(server_errors)}, RSS {before / 1024:.0f} -> {after / 1024:.0f} MiB")
        assert not server_errors, counts
        assert after - before < 100 * 1024, (before, after)
        srv.post("/shutdown")
        assert srv.proc.wait(30) == 0
        stderr = srv.stderr()
        assert "Traceback" not in stderr and "Fatal Python error" not in stderr, stderr[-3000:]
        assert len(stderr) < 50_000, len(stderr)  # repeated warnings are rate-limited
    finally:
        srv.kill()
