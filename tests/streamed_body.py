"""POST a body in chunks straight to an ASGI app and count how many chunks it
read: a refusal that comes before the body is read leaves them unread."""

from __future__ import annotations

from dataclasses import dataclass

import anyio.from_thread
from fastapi.testclient import TestClient
from starlette.types import Message


@dataclass
class StreamedAnswer:
    status: int
    location: str | None
    body: bytes
    chunks_read: int


def post_streamed(client: TestClient, path: str, *, chunks: int, chunk_size: int = 64 * 1024) -> StreamedAnswer:
    """``chunks`` pieces of multipart filler with no Content-Length (as a
    chunked upload sends them), with the client's cookies, through its portal."""
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    headers = [(b"content-type", b"multipart/form-data; boundary=bound"), (b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    first = b'--bound\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
    read = 0
    started: dict = {}
    body: list[bytes] = []

    async def receive() -> Message:
        nonlocal read
        if read >= chunks:
            return {"type": "http.disconnect"}
        read += 1
        piece = (first + b"x" * (chunk_size - len(first))) if read == 1 else b"x" * chunk_size
        return {"type": "http.request", "body": piece, "more_body": read < chunks}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    if client.portal is not None:  # a client in its ``with`` block: the app's own event loop
        client.portal.call(client.app, scope, receive, send)
    else:
        with anyio.from_thread.start_blocking_portal() as portal:
            portal.call(client.app, scope, receive, send)
    location = next((v.decode() for k, v in started.get("headers", []) if k == b"location"), None)
    return StreamedAnswer(status=started["status"], location=location, body=b"".join(body), chunks_read=read)
