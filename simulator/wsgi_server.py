"""A threaded WSGI server over TLS that keeps HTTP/1.1 connections alive.

Werkzeug's development server closes every connection after one response (it cannot drain
request bodies safely); clients then pay a TLS handshake per request. This handler buffers
each response, frames it with Content-Length and drains the request body, so connections
can be reused. The TLS handshake runs in the worker thread, so a slow or silent client
never blocks the accept loop.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

logger = logging.getLogger(__name__)

# An app sets this environ key to True to hang up without answering (fault injection: "drop").
DROP_CONNECTION = "sigsync.drop_connection"
HANDSHAKE_TIMEOUT = 10  # seconds a client gets to finish the TLS handshake
IDLE_TIMEOUT = 120  # seconds a kept-alive connection may sit idle
_NO_BODY_STATUS = {204, 304}


class KeepAliveHandler(WSGIRequestHandler):
    """Werkzeug's request parsing and environ, with keep-alive responses and quiet logging."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT

    def log_error(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
        # An idle kept-alive connection reaching IDLE_TIMEOUT is routine, not an error.
        if format.startswith("Request timed out"):
            logger.debug(format, *args)
            return
        super().log_error(format, *args)

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        if not environ.get("wsgi.input_terminated"):
            environ["wsgi.input"] = LimitedStream(self.rfile, _content_length(self.headers))
        status, headers, body = self._call_app(environ)
        if environ.get(DROP_CONNECTION):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        try:
            environ["wsgi.input"].read()  # drain what the app left, or the next request line is lost
        except (OSError, ValueError):
            self.close_connection = True
        try:
            self._send(status, headers, body)
        except OSError:
            self.close_connection = True  # the client went away (or an app shut the socket)

    def _call_app(self, environ) -> tuple[str, list[tuple[str, str]], bytes]:
        started: list = []
        parts: list[bytes] = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]
            return parts.append

        try:
            result = self.server.app(environ, start_response)
            try:
                parts.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:
            logger.exception("simulator error on %s %s", self.command, self.path)
            self.close_connection = True
            return "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"Internal Server Error"
        return started[0], started[1], b"".join(parts)

    def _send(self, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        code_text, _, reason = status.partition(" ")
        code = int(code_text)
        self.send_response(code, reason)
        for name, value in headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if code not in _NO_BODY_STATUS and code >= 200:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        # Headers and body leave in one write: two small writes meet the client's delayed ACK (~40 ms).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD" and code not in _NO_BODY_STATUS:
            self._headers_buffer.append(body)
        self.flush_headers()

    def log_request(self, code="-", size="-") -> None:
        logger.debug("%s %s", self.requestline, code)

    def log(self, type: str, message: str, *args) -> None:
        logger.log(logging.ERROR if type == "error" else logging.DEBUG, message, *args)


class TLSWSGIServer(ThreadedWSGIServer):
    """Threaded werkzeug server on an already bound socket, doing TLS per connection."""

    def __init__(self, listener: socket.socket, ssl_context: ssl.SSLContext, app=None) -> None:
        host, port = listener.getsockname()[:2]
        super().__init__(host, port, app or _starting, handler=KeepAliveHandler, fd=listener.fileno())
        self.ssl_context = ssl_context  # werkzeug reads it for wsgi.url_scheme
        self.accepted = 0  # TLS connections set up so far (keep-alive keeps this low)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def finish_request(self, request, client_address) -> None:
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            request.settimeout(HANDSHAKE_TIMEOUT)
            conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            return  # a client that hung up, or spoke plain HTTP to a TLS port
        with self._open_lock:
            self._open.add(conn)
            self.accepted += 1
        try:
            self.RequestHandlerClass(conn, client_address, self)
        finally:
            with self._open_lock:
                self._open.discard(conn)
            self.shutdown_request(conn)

    def close_connections(self) -> None:
        """Hang up kept-alive connections, so a stopped server really stops answering."""
        with self._open_lock:
            connections = list(self._open)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _content_length(headers) -> int:
    try:
        return max(int(headers.get("Content-Length") or 0), 0)
    except ValueError:
        return 0


def _starting(environ, start_response):
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]
