"""A TCP tee on loopback: relays a client's connections to a server unchanged and records the bytes the
client sent, so a test can prove what a real client (Claude Code) put on the wire."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import h11


@dataclass
class SeenRequest:
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)


class TcpTee:
    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._streams: list[bytearray] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self._upstream_port))
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            recorded = bytearray()
            with self._lock:
                self._streams.append(recorded)
            threading.Thread(target=self._pipe, args=(client, server, recorded), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, None), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket, recorded: bytearray | None) -> None:
        try:
            while data := source.recv(65536):
                if recorded is not None:
                    recorded.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def requests(self) -> list[SeenRequest]:
        """Every complete HTTP request the client sent, parsed from the raw bytes (h11)."""
        seen: list[SeenRequest] = []
        with self._lock:
            streams = [bytes(s) for s in self._streams]
        for raw in streams:
            connection = h11.Connection(h11.SERVER)
            connection.receive_data(raw)
            current: SeenRequest | None = None
            while True:
                try:
                    event = connection.next_event()
                except h11.RemoteProtocolError:
                    break
                if isinstance(event, h11.Request):
                    current = SeenRequest(event.method.decode(), event.target.decode(),
                                          [(k.decode(), v.decode()) for k, v in event.headers], b"")
                elif isinstance(event, h11.Data) and current is not None:
                    current.body += event.data
                elif isinstance(event, h11.EndOfMessage) and current is not None:
                    seen.append(current)
                    current = None
                    # Pretend we answered, so h11 parses the next request on this keep-alive connection.
                    connection.send(h11.Response(status_code=200, headers=[("content-length", "0")]))
                    connection.send(h11.EndOfMessage())
                    connection.start_next_cycle()
                elif event in (h11.NEED_DATA, h11.PAUSED) or isinstance(event, h11.ConnectionClosed):
                    break
        return seen

    def close(self) -> None:
        self._closed = True
        self._listener.close()
