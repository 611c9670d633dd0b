"""The HTTP bridge between a browser provider and its page (loopback only).

The page long-polls this process: it POSTs each reply to ``/<token>/exchange`` and the response
body is the next command (:mod:`oasis_lab.browser.wire` messages). Besides the exchange the page
POSTs uncaught errors to ``/<token>/error`` and a heartbeat to ``/<token>/beat`` every
:data:`BEAT_INTERVAL` seconds. Signs that the page is gone:

- its pending exchange connection closed while it waited for a command (its renderer died:
  Chromium's network service drops the renderer's requests) (:meth:`Bridge.page_failure`);
- it reported that its WebGPU device was lost (the GPU process died) (same);
- its heartbeat stopped (:attr:`Bridge.last_beat`) after one of the browser's renderers died:
  the provider tells its page's renderer from the spare one this way (the page of a dead spare
  keeps beating).

The random token in every path keeps other local processes' requests out.
"""

from __future__ import annotations

import json
import queue
import secrets
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from oasis_lab.browser.wire import encode

__all__ = ["BEAT_INTERVAL", "Bridge"]

#: Seconds between the page's heartbeats (``runtime.js`` reads it from the page URL).
BEAT_INTERVAL = 0.25
_STATIC = ("provider.html", "runtime.js")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms ACK wait
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: errors are raised, not logged
        return

    def _send(self, code: int, body: bytes, ctype: str = "application/octet-stream") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        bridge = self.server.bridge
        prefix = f"/{bridge.token}/"
        name = self.path[len(prefix):].split("?", 1)[0] if self.path.startswith(prefix) else ""
        if name not in _STATIC:
            self._send(404, b"")
            return
        body = resources.files("oasis_lab.browser").joinpath("static", name).read_bytes()
        self._send(200, body, "text/html" if name.endswith("html") else "text/javascript")

    def do_POST(self) -> None:
        bridge = self.server.bridge
        n = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(n)
        path = self.path
        if path == f"/{bridge.token}/beat":
            bridge.last_beat = time.monotonic()
            self._send(200, b"")
            return
        if path == f"/{bridge.token}/error":
            err = json.loads(body or b"{}")
            if err.get("kind") == "device lost":
                bridge.device_lost = str(err.get("message", ""))
            bridge.page_errors.put(err)
            self._send(200, b"")
            return
        if path != f"/{bridge.token}/exchange":
            self._send(404, b"")
            return
        bridge.last_beat = time.monotonic()
        bridge.replies.put(body)
        command = bridge.next_command(self.connection)
        if command is not None:
            self._send(200, command)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    bridge: Bridge

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a page that goes away mid-request (close, crash) resets its connection: not an error
        return


def _peer_closed(sock: socket.socket) -> bool:
    """Whether the other end closed ``sock`` (readable with nothing to read, or reset)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class Bridge:
    """The loopback HTTP server, the queues between it and the provider, and the page's signs
    of life."""

    def __init__(self) -> None:
        self.token = secrets.token_hex(16)
        self.replies: queue.Queue[bytes] = queue.Queue()
        self.commands: queue.Queue[bytes] = queue.Queue()
        self.page_errors: queue.Queue[dict[str, Any]] = queue.Queue()
        self.closing = threading.Event()
        #: Monotonic time of the page's last heartbeat or exchange (0: none yet).
        self.last_beat = 0.0
        #: Set when the page's pending exchange connection closed while it waited.
        self.page_gone = threading.Event()
        #: The page's "device lost" message, when its WebGPU device was lost.
        self.device_lost: str | None = None
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.bridge = self
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       daemon=True, name="oasis-browser-bridge")
        self.thread.start()

    @property
    def url(self) -> str:
        """The page's address (loopback, with the token and the heartbeat interval)."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/{self.token}/provider.html?beat={BEAT_INTERVAL}"

    def next_command(self, conn: socket.socket) -> bytes | None:
        """The next command for the page; ``None`` when the page's connection closed first."""
        while not self.closing.is_set():
            try:
                return self.commands.get(timeout=0.1)
            except queue.Empty:
                pass
            if _peer_closed(conn):
                self.page_gone.set()
                return None
        return encode({"op": "close"}, [])

    def page_failure(self) -> str | None:
        """Why the page is gone (its device lost, or its connection closed while it waited for a
        command), or ``None``. A renderer that dies mid-command is found through the heartbeat
        (:attr:`last_beat`, see :class:`~oasis_lab.browser.provider.BrowserProvider`)."""
        if self.device_lost is not None:
            return f"the page lost its WebGPU device (GPU process gone?): {self.device_lost}"
        if self.page_gone.is_set():
            return "the page's renderer is gone (its connection closed)"
        return None

    def shutdown(self) -> None:
        """Answer the page's pending exchange with "close" and stop the server."""
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
