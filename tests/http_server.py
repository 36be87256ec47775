"""A real HTTP server on 127.0.0.1 for download tests: files by path, HTTP Range, cut links.

Tests describe what is served, and how the server misbehaves, with a :class:`ServedFiles`
(or a subclass that maps other paths to content, e.g. a fake Zenodo record); :func:`serve`
runs it in a thread for the duration of a ``with`` block.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TypeVar


@dataclass
class ServedFiles:
    """Content by URL path, and misbehaviour by key; ``requests`` logs (path, Range header).

    ``cut_once`` keys: the first GET sends half, then hangs up; ``cut_always``: every GET
    sends half of what it promised; ``trickle``: the body goes out one byte every
    ``trickle_interval`` seconds. A served item's key is its path unless :meth:`lookup`
    says otherwise.
    """

    url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    cut_once: set[str] = field(default_factory=set)
    cut_always: set[str] = field(default_factory=set)
    trickle: set[str] = field(default_factory=set)
    trickle_interval: float = 0.5
    honour_range: bool = True
    requests: list[tuple[str, str | None]] = field(default_factory=list)

    def lookup(self, path: str) -> tuple[str, bytes, str] | None:
        """(key, content, content type) served at ``path``, or None for 404."""
        if path in self.files:
            return path, self.files[path], "application/octet-stream"
        return None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        served = self.server.served
        rng = self.headers.get("Range")
        served.requests.append((self.path, rng))
        found = served.lookup(self.path)
        if found is None:
            self.send_response(404)
            self.send_header("Content-Length", "9")
            self.end_headers()
            self.wfile.write(b"not found")
            return
        key, data, content_type = found
        start = int(re.fullmatch(r"bytes=(\d+)-", rng)[1]) if rng and served.honour_range else 0
        if start:
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        body = data[start:]
        if key in served.cut_once or key in served.cut_always:
            served.cut_once.discard(key)
            body = body[: len(body) // 2]  # promised more: the client sees a short read
            self.close_connection = True
        if key in served.trickle:
            self._trickle(body, served.trickle_interval)
        else:
            self.wfile.write(body)

    def _trickle(self, body: bytes, interval: float) -> None:
        """Send ``body`` a byte at a time until it is done or the client hangs up."""
        for i in range(len(body)):
            try:
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
            except OSError:  # the client gave up
                self.close_connection = True
                return
            time.sleep(interval)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    served: ServedFiles


S = TypeVar("S", bound=ServedFiles)


@contextlib.contextmanager
def serve(served: S) -> Iterator[S]:
    """Serve ``served`` on a free port of 127.0.0.1 (its ``url`` is set) until the block ends."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.served = served
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
