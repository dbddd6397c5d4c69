"""The TLS context of f7tproxy's HTTP clients (JWKS, the key service, S3), made once.

httpx makes a new context for every client, and loading the CA bundle into it
(certifi's, about 150 certificates) takes 20 to 80 ms of CPU. f7tproxy makes a
client per JWKS fetch, per key-service call and per S3 request, so each of those
stalled the event loop for that long. An `ssl.SSLContext` holds settings and trust
anchors, no connection state: one serves every client (httpx recommends reusing it).
"""

from __future__ import annotations

import ssl
import threading

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def client_context() -> ssl.SSLContext:
    """httpx's default verifying context (`SSL_CERT_FILE` or `SSL_CERT_DIR` if set, else
    certifi's bundle), made on the first call; pass it as `verify=` to `httpx.AsyncClient`."""
    global _context
    with _lock:
        if _context is None:
            import httpx

            _context = httpx.create_ssl_context()
        return _context


def preload() -> None:
    """Start making the context in a thread and return at once.

    OpenSSL releases the GIL while it parses the bundle, so `serve` overlaps this with
    importing the server; the first JWKS fetch, which needs it, finds it made.
    """
    threading.Thread(target=client_context, name="f7tproxy-tls-context", daemon=True).start()
