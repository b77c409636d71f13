"""Blocking client for skeg's native binary protocol v1 (default port 7379).

    import skeg
    with skeg.Client("127.0.0.1", 7379) as c:
        c.set("k", "v")
        c.get("k")                      # b"v"; None when the key is missing
        with c.pipeline() as p:         # send N, then read N
            p.set("a", "1")
            p.get("a")
        p.results                       # [None, b"1"]

Errors: an Err reply raises the ServerError subclass of its code (NotFound, InvalidRequest,
InternalError, Unauthorized, QuotaExceeded, ReadOnly). Socket failures raise ConnectionLost,
protocol violations ProtocolError; after either the client is closed.

NO_REPLY writes return at once; the server only answers them when they fail, and such late
errors are collected (as exception instances) in ``client.no_reply_errors`` while later
replies are read. Not thread-safe: one Client per thread.
"""

from __future__ import annotations

import collections
import select
import socket
import struct
from typing import Any, Iterable, Sequence

from . import protocol as P
from .errors import ConnectionLost, PayloadError, ProtocolError, SkegError, error_for_code

DEFAULT_PORT = 7379


def _write_flags(wait_durable: bool, no_reply: bool, compress: bool) -> int:
    return (
        (P.Flag.WAIT_DURABLE if wait_durable else 0)
        | (P.Flag.NO_REPLY if no_reply else 0)
        | (P.Flag.COMPRESSED_LZ4 if compress else 0)
    )


class _Pending:
    __slots__ = ("req_id", "shape", "no_reply", "convert")

    def __init__(self, req_id, shape, no_reply, convert):
        self.req_id = req_id
        self.shape = shape
        self.no_reply = no_reply
        self.convert = convert


class _Commands:
    """Typed request builders shared by Client (call now) and Pipeline (queue)."""

    def _submit(self, op, payload, flags=0, convert=None):  # pragma: no cover - abstract
        raise NotImplementedError

    # --- KV ---
    def ping(self):
        """PING; None."""
        return self._submit(P.Op.PING, b"")

    def get(self, key):
        """The value as bytes, or None when the key does not exist."""
        return self._submit(P.Op.GET, P.payload_get(key), convert=_missing_is_none)

    def set(self, key, value, *, nx=False, xx=False, wait_durable=False, no_reply=False,
            compress=False):  # fmt: skip
        """SET. Returns None; with nx/xx a bool: True when written."""
        if nx and xx:
            raise ValueError("nx and xx are mutually exclusive")
        flags = _write_flags(wait_durable, no_reply, compress)
        flags |= (P.Flag.SET_NX if nx else 0) | (P.Flag.SET_XX if xx else 0)
        return self._submit(P.Op.SET, P.payload_set(key, value), flags)

    def delete(self, key, *, wait_durable=False, no_reply=False):
        """DEL; True if the key existed (None with no_reply)."""
        return self._submit(P.Op.DEL, P.payload_del(key), _write_flags(wait_durable, no_reply, False))

    def mget(self, keys: Sequence):
        """A list with bytes or None per key."""
        return self._submit(P.Op.MGET, P.payload_keys(keys))

    def mset(self, pairs, *, wait_durable=False, no_reply=False, compress=False):
        """MSET from a mapping or (key, value) pairs; atomic."""
        return self._submit(
            P.Op.MSET, P.payload_mset(pairs), _write_flags(wait_durable, no_reply, compress)
        )

    def exists(self, key):
        return self._submit(P.Op.EXISTS, P.payload_exists(key))

    def mexists(self, keys: Sequence):
        """How many of ``keys`` exist."""
        return self._submit(P.Op.MEXISTS, P.payload_keys(keys))

    # --- vectors ---
    def vindex_create(self, name, dim: int, kind="f32", backend="flat"):
        """kind: f32 int8 binary tq1 tq2 tq4 pq; backend: flat disk (names or byte values)."""
        return self._submit(P.Op.VINDEX_CREATE, P.payload_vindex_create(name, dim, kind, backend))

    def vindex_drop(self, name):
        return self._submit(P.Op.VINDEX_DROP, P.payload_name(name))

    def vset(self, name, vec_id: int, vec, *, wait_durable=False, no_reply=False,
             compress=False):  # fmt: skip
        """vec: a sequence of numbers, array('f'), numpy array, or raw little-endian f32 bytes."""
        return self._submit(
            P.Op.VSET, P.payload_vset(name, vec_id, vec), _write_flags(wait_durable, no_reply, compress)
        )

    def vget(self, name, vec_id: int):
        """The stored vector as a list of floats; raises NotFound for an absent id or index."""
        return self._submit(P.Op.VGET, P.payload_name_id(name, vec_id))

    def vdel(self, name, vec_id: int, *, wait_durable=False, no_reply=False):
        return self._submit(
            P.Op.VDEL, P.payload_name_id(name, vec_id), _write_flags(wait_durable, no_reply, False)
        )

    def vsearch(self, name, k: int, vec, l_search: int = 0, *, compress=False):
        """[(id, score), ...] best first; l_search 0 = the index default."""
        return self._submit(
            P.Op.VSEARCH, P.payload_vsearch(name, k, vec, l_search),
            P.Flag.COMPRESSED_LZ4 if compress else 0,
        )  # fmt: skip

    def vindex_list(self):
        """[IndexInfo(name, dim, kind, backend, n_vectors), ...] sorted by name."""
        return self._submit(P.Op.VINDEX_LIST, b"")

    # --- admin ---
    def stats(self):
        """Stats(cache_bytes, cache_evictions, n_keys, cache_budget_bytes)."""
        return self._submit(P.Op.STATS, b"")

    def flush(self):
        """Sync barrier: every acknowledged write is durable when this returns."""
        return self._submit(P.Op.FLUSH, b"")

    def shards(self):
        """[ShardInfo(shard_id, cache_bytes, evictions, n_keys, budget_bytes), ...]."""
        return self._submit(P.Op.SHARDS, b"")

    def auth(self, user, password):
        """AUTH [ext]; raises Unauthorized on wrong credentials."""
        return self._submit(P.Op.AUTH, P.payload_auth(user, password))

    def whoami(self):
        """WHOAMI [ext]; the same text as SKEG.WHOAMI."""
        return self._submit(P.Op.WHOAMI, b"")


def _missing_is_none(result):
    """GET: NotFound means a missing key."""
    if isinstance(result, SkegError) and getattr(result, "code", None) == 0x01:
        return None
    return result


class Client(_Commands):
    """One TCP connection speaking the native protocol."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
                 timeout: float | None = 10.0):  # fmt: skip
        try:
            self._sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise ConnectionLost(f"connect {host}:{port}: {e}") from e
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._timeout = timeout
        self._parser = P.FrameParser()
        self._next_id = 1
        self._unacked: collections.deque[int] = collections.deque()
        self.no_reply_errors: list[SkegError] = []

    # --- lifecycle ---
    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    @property
    def closed(self) -> bool:
        return self._sock is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def pipeline(self) -> "Pipeline":
        return Pipeline(self)

    # --- core ---
    def _submit(self, op, payload, flags=0, convert=None):
        results = self._roundtrip([(op, payload, flags, convert)])
        result = results[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _new_id(self) -> int:
        i = self._next_id
        self._next_id += 1
        return i

    def _fail(self, exc: SkegError) -> SkegError:
        self.close()
        return exc

    def _roundtrip(self, requests):
        """Sends every (op, payload, flags, convert) in one write; returns one result each
        (a value, or an exception instance for an Err reply)."""
        if self._sock is None:
            raise ConnectionLost("client is closed")
        wire = bytearray()
        pending = []
        for op, payload, flags, convert in requests:
            req_id = self._new_id()
            wire += P.encode_frame(op, req_id, payload, flags)
            pending.append(
                _Pending(req_id, P.reply_shape(op, flags), P.suppresses_reply(op, flags), convert)
            )
        self._send_all(wire)
        results: list[Any] = []
        for i, p in enumerate(pending):
            if p.no_reply:
                self._unacked.append(p.req_id)
                results.append(None)
                continue
            while True:
                frame = self._read_frame()
                if frame.req_id == p.req_id:
                    while self._unacked and self._unacked[0] < p.req_id:
                        self._unacked.popleft()
                    results.append(self._result(frame, p))
                    break
                # Must be the Err of an earlier NO_REPLY request.
                while self._unacked and self._unacked[0] < frame.req_id:
                    self._unacked.popleft()
                if not self._unacked or self._unacked[0] != frame.req_id or frame.op != P.Op.ERR:
                    raise self._fail(
                        ProtocolError(f"reply for an unexpected req_id {frame.req_id}")
                    )
                self._unacked.popleft()
                exc = error_for_code(*P.decode_error(self._payload(frame)))
                for j in range(i):
                    if pending[j].req_id == frame.req_id:
                        results[j] = exc
                        break
                else:
                    self.no_reply_errors.append(exc)
        return results

    def _send_all(self, wire: bytes) -> None:
        # While the server cannot take more bytes, read the replies it already sent: a big
        # pipeline would otherwise deadlock (both sides blocked writing).
        view = memoryview(wire)
        sock = self._sock
        try:
            while view:
                readable, writable, _ = select.select([sock], [sock], [], self._timeout)
                if not readable and not writable:
                    raise self._fail(ConnectionLost("send: timed out"))
                if writable:
                    view = view[sock.send(view[: 1 << 20]) :]
                if readable:
                    data = sock.recv(65536)
                    if not data:
                        raise self._fail(ConnectionLost("connection closed by the server"))
                    self._parser.feed(data)
        except OSError as e:
            raise self._fail(ConnectionLost(f"send: {e}")) from e

    def _payload(self, frame: P.Frame) -> bytes:
        try:
            return P.frame_payload(frame)
        except PayloadError as e:
            raise self._fail(ProtocolError(str(e))) from None

    def _result(self, frame: P.Frame, p: _Pending):
        try:
            if frame.op == P.Op.ERR:
                result: Any = error_for_code(*P.decode_error(self._payload(frame)))
            elif frame.op == P.Op.OK:
                result = P.decode_reply(p.shape, self._payload(frame))
            else:
                raise ProtocolError(f"op 0x{frame.op:02x} is not a response")
        except ProtocolError as e:
            raise self._fail(e) from None
        return p.convert(result) if p.convert else result

    def _read_frame(self) -> P.Frame:
        while True:
            try:
                frame = self._parser.next_frame()
            except ProtocolError as e:
                raise self._fail(e) from None
            if frame is not None:
                return frame
            try:
                data = self._sock.recv(max(65536, self._parser.required() - self._parser.pending))
            except OSError as e:
                raise self._fail(ConnectionLost(f"recv: {e}")) from e
            if not data:
                raise self._fail(ConnectionLost("connection closed by the server"))
            self._parser.feed(data)


class Pipeline(_Commands):
    """Queues commands and sends them in one write; ``execute()`` reads every reply.

    As a context manager it executes on a clean exit (unless execute() already ran and
    nothing was queued since) and keeps the list in ``results``.
    Each command method returns the index of its reply in that list.
    """

    def __init__(self, client: Client):
        self._client = client
        self._queue: list = []
        self.results: list | None = None

    def _submit(self, op, payload, flags=0, convert=None):
        self._queue.append((op, payload, flags, convert))
        return len(self._queue) - 1

    def __len__(self) -> int:
        return len(self._queue)

    def execute(self, raise_on_error: bool = True) -> list:
        """Sends the queue and returns the replies in order. With raise_on_error (default) the
        first Err reply is raised after every reply has been read; otherwise error replies are
        returned in place as exception instances."""
        queue, self._queue = self._queue, []
        results = self._client._roundtrip(queue) if queue else []
        self.results = results
        if raise_on_error:
            for r in results:
                if isinstance(r, BaseException):
                    raise r
        return results

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and (self._queue or self.results is None):
            self.execute()
