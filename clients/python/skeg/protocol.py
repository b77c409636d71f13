"""Codec for skeg's native binary protocol, version 1 (frozen; port 7379).

A frame is a 24-byte little-endian header followed by ``payload_len`` bytes::

    offset size field
    0      2    magic        0x564B (bytes 4B 56)
    2      1    version      1
    3      1    op           see Op
    4      4    flags        see Flag; unknown bits are a protocol error
    8      8    req_id       echoed verbatim in the response
    16     4    payload_len  at most 16 MiB
    20     4    reserved     written 0, ignored on read

Payload shapes: key/name = [u16 len][bytes], value = [u32 len][bytes],
vec = [u32 dim][f32 x dim], bool = one byte 0/1. The request and reply payload of every op is
listed in docs/formats/native.md; this module mirrors src/protocol/native/ (C++), and both are
tested against the same hand-written frames (tests/frames.json).

Errors: :class:`~skeg.errors.ProtocolError` for a broken header (connection-fatal),
:class:`~skeg.errors.PayloadError` for a payload that does not parse. Counts are checked
against the bytes present before anything is built.
"""

from __future__ import annotations

import array
import enum
import struct
import sys
from typing import Any, Iterable, NamedTuple, Sequence

from . import lz4block
from .errors import PayloadError, ProtocolError

MAGIC = 0x564B
VERSION = 1
HEADER_SIZE = 24
MAX_PAYLOAD = 16 * 1024 * 1024  # 16 777 216; also the bound on an uncompressed LZ4 payload
MAX_ERROR_MESSAGE = 255
_HEADER = struct.Struct("<HBBIQII")


class Op(enum.IntEnum):
    GET = 0x01
    SET = 0x02
    DEL = 0x03
    MGET = 0x04
    MSET = 0x05
    EXISTS = 0x06
    MEXISTS = 0x07
    VINDEX_CREATE = 0x10
    VINDEX_DROP = 0x11
    VSET = 0x12
    VGET = 0x13
    VDEL = 0x14
    VSEARCH = 0x15
    VINDEX_LIST = 0x16
    PING = 0x80
    STATS = 0x81
    FLUSH = 0x82
    SHARDS = 0x83
    AUTH = 0x84  # [ext]
    WHOAMI = 0x85  # [ext]
    OK = 0xC0  # response-only
    ERR = 0xC1  # response-only
    CONTINUED = 0xC2  # response-only, reserved


RESPONSE_OPS = frozenset({Op.OK, Op.ERR, Op.CONTINUED})
_KNOWN_OPS = frozenset(int(o) for o in Op)


class Flag(enum.IntFlag):
    WAIT_DURABLE = 1 << 0
    NO_REPLY = 1 << 1
    BATCH = 1 << 2  # reserved in v1
    BATCH_END = 1 << 3  # reserved in v1
    COMPRESSED_LZ4 = 1 << 4
    CONTINUATION = 1 << 5  # reserved in v1
    SET_NX = 1 << 6
    SET_XX = 1 << 7


KNOWN_FLAGS = 0xFF
RESERVED_FLAGS = Flag.BATCH | Flag.BATCH_END | Flag.CONTINUATION
NO_REPLY_OPS = frozenset({Op.SET, Op.MSET, Op.VSET, Op.DEL, Op.VDEL})
# Plain ints for the per-request paths (IntFlag arithmetic costs a Python call per operator).
_F_NO_REPLY = int(Flag.NO_REPLY)
_F_LZ4 = int(Flag.COMPRESSED_LZ4)
_F_NX_XX = int(Flag.SET_NX | Flag.SET_XX)
_UNKNOWN_FLAGS = ~KNOWN_FLAGS
_U32 = struct.Struct("<I")

KINDS = {"f32": 0, "int8": 1, "binary": 2, "tq1": 3, "tq2": 4, "tq4": 5, "pq": 6}
BACKENDS = {"flat": 0, "disk": 1}
KIND_NAMES = {v: k for k, v in KINDS.items()}
BACKEND_NAMES = {v: k for k, v in BACKENDS.items()}


class Frame(NamedTuple):
    op: int
    flags: int
    req_id: int
    payload: bytes  # as on the wire (still compressed when COMPRESSED_LZ4 is set)


class IndexInfo(NamedTuple):
    name: str
    dim: int
    kind: str  # "f32", ..., or "kind<N>" for a kind this client does not know
    backend: str
    n_vectors: int


class Stats(NamedTuple):
    cache_bytes: int
    cache_evictions: int
    n_keys: int
    cache_budget_bytes: int


class ShardInfo(NamedTuple):
    shard_id: int
    cache_bytes: int
    evictions: int
    n_keys: int
    budget_bytes: int


class Request(NamedTuple):
    """A decoded request: ``args`` maps field names to values (see decode_request)."""

    op: Op
    flags: int
    req_id: int
    args: dict


# ---------------------------------------------------------------- frames


def suppresses_reply(op: int, flags: int) -> bool:
    """True when a server stays silent on success (NO_REPLY on SET/MSET/VSET/DEL/VDEL)."""
    return bool(int(flags) & _F_NO_REPLY) and op in NO_REPLY_OPS


def compress_payload(raw: bytes) -> bytes:
    """``[u32 uncompressed_len][lz4 block]``."""
    if len(raw) > MAX_PAYLOAD:
        raise ValueError("payload over 16 MiB")
    return struct.pack("<I", len(raw)) + lz4block.compress(raw)


def decompress_payload(payload: bytes) -> bytes:
    """Inverse of compress_payload; raises PayloadError."""
    if len(payload) < 4:
        raise PayloadError("COMPRESSED_LZ4 payload shorter than its u32 size prefix")
    (size,) = struct.unpack_from("<I", payload)
    if size > MAX_PAYLOAD:
        raise PayloadError("COMPRESSED_LZ4 uncompressed size over 16 MiB")
    block = payload[4:]
    if size > len(block) * 255 + 16:
        raise PayloadError("COMPRESSED_LZ4 uncompressed size larger than the block allows")
    try:
        return lz4block.decompress(block, size)
    except lz4block.LZ4Error as e:
        raise PayloadError(f"COMPRESSED_LZ4 payload: {e}") from None


def encode_frame(op: int, req_id: int, payload: bytes = b"", flags: int = 0) -> bytes:
    """One complete frame; compresses the payload when ``flags`` has COMPRESSED_LZ4."""
    flags = int(flags)
    if flags & _UNKNOWN_FLAGS:
        raise ValueError("unknown flag bit")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError("payload over 16 MiB")
    if flags & _F_LZ4:
        payload = compress_payload(payload)
        if len(payload) > MAX_PAYLOAD:
            raise ValueError("compressed payload over 16 MiB")
    return _HEADER.pack(MAGIC, VERSION, int(op), flags, req_id, len(payload), 0) + payload


def decode_header(data: bytes, max_payload: int = MAX_PAYLOAD) -> tuple[int, int, int, int]:
    """(op, flags, req_id, payload_len) of a 24-byte header; raises ProtocolError."""
    magic, version, op, flags, req_id, payload_len, _reserved = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError("native frame: bad magic")
    if version != VERSION:
        raise ProtocolError("native frame: unsupported version")
    if op not in _KNOWN_OPS:
        raise ProtocolError("native frame: unknown op")
    if flags & _UNKNOWN_FLAGS:
        raise ProtocolError("native frame: unknown flag bit")
    if payload_len > max_payload:
        raise ProtocolError("native frame: payload_len over the limit")
    return op, flags, req_id, payload_len


class FrameParser:
    """Resumable splitter of a byte stream into frames.

    ``feed(data)`` appends bytes; ``next_frame()`` returns the next complete Frame or None when
    more bytes are needed, and raises ProtocolError (sticky) on a broken header, as early as
    the bytes allow (a wrong first byte fails at once).
    """

    def __init__(self, max_payload: int = MAX_PAYLOAD):
        if not 0 < max_payload <= MAX_PAYLOAD:
            raise ValueError("max_payload must be in [1, 16 MiB]")
        self._buf = bytearray()
        self._pos = 0  # bytes of _buf already returned as frames (dropped on the next feed)
        self._max_payload = max_payload
        self._error: ProtocolError | None = None

    def feed(self, data: bytes) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    @property
    def pending(self) -> int:
        """Bytes buffered but not yet returned as frames."""
        return len(self._buf) - self._pos

    def required(self) -> int:
        """Total buffered bytes needed before next_frame() can make progress."""
        if self.pending < HEADER_SIZE:
            return HEADER_SIZE
        return HEADER_SIZE + _U32.unpack_from(self._buf, self._pos + 16)[0]

    def next_frame(self) -> Frame | None:
        if self._error is not None:
            raise self._error
        buf = self._buf
        pos = self._pos
        try:
            if len(buf) - pos < HEADER_SIZE:
                prefix = bytes(buf[pos : pos + 4])
                if (
                    (len(prefix) > 0 and prefix[0] != (MAGIC & 0xFF))
                    or (len(prefix) > 1 and prefix[1] != (MAGIC >> 8))
                    or (len(prefix) > 2 and prefix[2] != VERSION)
                    or (len(prefix) > 3 and prefix[3] not in _KNOWN_OPS)
                ):
                    decode_header(prefix + bytes(HEADER_SIZE - len(prefix)), self._max_payload)
                return None
            magic, version, op, flags, req_id, payload_len, _ = _HEADER.unpack_from(buf, pos)
            if (
                magic != MAGIC
                or version != VERSION
                or op not in _KNOWN_OPS
                or flags & _UNKNOWN_FLAGS
                or payload_len > self._max_payload
            ):
                decode_header(bytes(buf[pos : pos + HEADER_SIZE]), self._max_payload)
        except ProtocolError as e:
            self._error = e
            raise
        end = pos + HEADER_SIZE + payload_len
        if len(buf) < end:
            return None
        self._pos = end
        return Frame(op, flags, req_id, bytes(buf[pos + HEADER_SIZE : end]))

    def frames(self) -> list[Frame]:
        """Every complete frame currently buffered."""
        out = []
        while (f := self.next_frame()) is not None:
            out.append(f)
        return out


def frame_payload(frame: Frame) -> bytes:
    """The payload ready to parse (decompressed when COMPRESSED_LZ4 is set)."""
    if frame.flags & _F_LZ4:
        return decompress_payload(frame.payload)
    return frame.payload


# ---------------------------------------------------------------- payload building blocks


def _b(x: bytes | bytearray | memoryview | str) -> bytes:
    if isinstance(x, str):
        return x.encode("utf-8")
    return bytes(x)


def _short(x: bytes | str, what: str = "key") -> bytes:
    data = _b(x)
    if len(data) > 0xFFFF:
        raise ValueError(f"{what} over 65535 bytes")
    return struct.pack("<H", len(data)) + data


def _value(x: bytes | str) -> bytes:
    data = _b(x)
    if len(data) > MAX_PAYLOAD:
        raise ValueError("value over 16 MiB")
    return struct.pack("<I", len(data)) + data


def floats_to_bytes(vec: Any) -> bytes:
    """Little-endian f32 bytes of a sequence of numbers, array('f'), or numpy array."""
    if hasattr(vec, "astype") and hasattr(vec, "tobytes"):  # numpy, without importing it
        return vec.astype("<f4", copy=False).ravel().tobytes()
    if isinstance(vec, (bytes, bytearray, memoryview)):
        data = bytes(vec)
        if len(data) % 4:
            raise ValueError("vector bytes not a multiple of 4")
        return data
    arr = array.array("f", vec)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()


def bytes_to_floats(data: bytes) -> list[float]:
    arr = array.array("f")
    arr.frombytes(data)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tolist()


def _vec(vec: Any) -> bytes:
    data = floats_to_bytes(vec)
    return struct.pack("<I", len(data) // 4) + data


def _kind(kind: str | int) -> int:
    if isinstance(kind, str):
        if kind.lower() not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {sorted(KINDS)}")
        return KINDS[kind.lower()]
    return int(kind)


def _backend(backend: str | int) -> int:
    if isinstance(backend, str):
        if backend.lower() not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; one of {sorted(BACKENDS)}")
        return BACKENDS[backend.lower()]
    return int(backend)


# ---------------------------------------------------------------- request payloads


def payload_get(key) -> bytes:
    return _short(key)


def payload_set(key, value) -> bytes:
    k, v = _b(key), _b(value)
    if len(k) > 0xFFFF:
        raise ValueError("key over 65535 bytes")
    if len(v) > MAX_PAYLOAD:
        raise ValueError("value over 16 MiB")
    return struct.pack("<HI", len(k), len(v)) + k + v


payload_del = payload_get
payload_exists = payload_get


def payload_keys(keys: Sequence) -> bytes:
    """MGET / MEXISTS: [u32 n] n x key."""
    keys = list(keys)
    return struct.pack("<I", len(keys)) + b"".join(_short(k) for k in keys)


def payload_mset(pairs: Iterable) -> bytes:
    pairs = list(pairs.items() if hasattr(pairs, "items") else pairs)
    return struct.pack("<I", len(pairs)) + b"".join(payload_set(k, v) for k, v in pairs)


def payload_vindex_create(name, dim: int, kind="f32", backend="flat") -> bytes:
    return _short(name, "name") + struct.pack("<IBB", dim, _kind(kind), _backend(backend))


def payload_name(name) -> bytes:
    return _short(name, "name")


def payload_vset(name, vec_id: int, vec) -> bytes:
    return _short(name, "name") + struct.pack("<Q", vec_id) + _vec(vec)


def payload_name_id(name, vec_id: int) -> bytes:
    """VGET / VDEL."""
    return _short(name, "name") + struct.pack("<Q", vec_id)


def payload_vsearch(name, k: int, vec, l_search: int = 0) -> bytes:
    out = _short(name, "name") + struct.pack("<I", k) + _vec(vec)
    if l_search:
        out += struct.pack("<I", l_search)
    return out


def payload_auth(user, password) -> bytes:
    return _short(user, "user") + _short(password, "password")


# ---------------------------------------------------------------- payload reader


class _Reader:
    def __init__(self, data: bytes, err=PayloadError):
        self.data = data
        self.pos = 0
        self.err = err

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        if n > self.remaining():
            raise self.err("length larger than the payload" if self.pos else "truncated payload")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str):
        s = struct.calcsize("<" + fmt)
        if s > self.remaining():
            raise self.err("truncated field")
        vals = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += s
        return vals

    def u8(self) -> int:
        return self.unpack("B")[0]

    def u16(self) -> int:
        return self.unpack("H")[0]

    def u32(self) -> int:
        return self.unpack("I")[0]

    def u64(self) -> int:
        return self.unpack("Q")[0]

    def boolean(self) -> bool:
        v = self.u8()
        if v > 1:
            raise self.err("boolean byte is neither 0 nor 1")
        return v == 1

    def short(self) -> bytes:
        return self.take(self.u16())

    def name(self) -> str:
        raw = self.short()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self.err("name is not valid UTF-8") from None

    def value(self) -> bytes:
        return self.take(self.u32())

    def vec(self) -> list[float]:
        dim = self.u32()
        return bytes_to_floats(self.take(dim * 4))

    def count(self, min_item: int) -> int:
        n = self.u32()
        if n * min_item > self.remaining():
            raise self.err("count larger than the payload can hold")
        return n

    def end(self) -> None:
        if self.remaining():
            raise self.err("trailing bytes after the payload")


def decode_request(frame: Frame) -> Request:
    """Decodes a request frame (for servers and tests); raises PayloadError.

    ``args`` per op: GET/DEL/EXISTS {key}, SET {key, value, nx, xx}, MGET/MEXISTS {keys},
    MSET {pairs}, VINDEX_CREATE {name, dim, kind, backend}, VINDEX_DROP {name},
    VSET {name, id, vec}, VGET/VDEL {name, id}, VSEARCH {name, k, vec, l_search},
    AUTH {user, password}; empty for the rest. Keys/values are bytes, names str,
    kind/backend names ("tq2", "disk").
    """
    if frame.op in RESPONSE_OPS:
        raise PayloadError("response-only op in a request")
    if frame.flags & RESERVED_FLAGS:
        raise PayloadError("reserved flag bit (BATCH/BATCH_END/CONTINUATION)")
    nx = bool(frame.flags & Flag.SET_NX)
    xx = bool(frame.flags & Flag.SET_XX)
    if frame.op == Op.SET and nx and xx:
        raise PayloadError("SET_NX and SET_XX together")
    op = Op(frame.op)
    r = _Reader(frame_payload(frame))
    args: dict = {}
    if op in (Op.GET, Op.DEL, Op.EXISTS):
        args["key"] = r.short()
    elif op == Op.SET:
        klen, vlen = r.unpack("HI")
        args["key"] = r.take(klen)
        args["value"] = r.take(vlen)
        args["nx"], args["xx"] = nx, xx
    elif op in (Op.MGET, Op.MEXISTS):
        n = r.count(2)
        args["keys"] = [r.short() for _ in range(n)]
    elif op == Op.MSET:
        n = r.count(6)
        pairs = []
        for _ in range(n):
            klen, vlen = r.unpack("HI")
            pairs.append((r.take(klen), r.take(vlen)))
        args["pairs"] = pairs
    elif op == Op.VINDEX_CREATE:
        args["name"] = r.name()
        args["dim"] = r.u32()
        kind, backend = r.u8(), r.u8()
        if kind not in KIND_NAMES:
            raise PayloadError("unknown kind byte")
        if backend not in BACKEND_NAMES:
            raise PayloadError("unknown backend byte")
        args["kind"], args["backend"] = KIND_NAMES[kind], BACKEND_NAMES[backend]
    elif op == Op.VINDEX_DROP:
        args["name"] = r.name()
    elif op == Op.VSET:
        args["name"] = r.name()
        args["id"] = r.u64()
        args["vec"] = r.vec()
    elif op in (Op.VGET, Op.VDEL):
        args["name"] = r.name()
        args["id"] = r.u64()
    elif op == Op.VSEARCH:
        args["name"] = r.name()
        args["k"] = r.u32()
        args["vec"] = r.vec()
        args["l_search"] = r.u32() if r.remaining() else 0
    elif op == Op.AUTH:
        args["user"] = r.short()
        args["password"] = r.short()
    r.end()
    return Request(op, frame.flags, frame.req_id, args)


# ---------------------------------------------------------------- replies

SHAPES = (
    "empty", "bool", "value", "mget", "count", "vector", "search", "index_list", "stats",
    "shards", "text",
)  # fmt: skip


_SHAPE_OF_OP = {
    Op.GET: "value",
    Op.DEL: "bool",
    Op.EXISTS: "bool",
    Op.VDEL: "bool",
    Op.MGET: "mget",
    Op.MEXISTS: "count",
    Op.VGET: "vector",
    Op.VSEARCH: "search",
    Op.VINDEX_LIST: "index_list",
    Op.STATS: "stats",
    Op.SHARDS: "shards",
    Op.WHOAMI: "text",
}


def reply_shape(op: int, flags: int = 0) -> str:
    """The Ok payload shape of a reply to (op, request flags)."""
    if op == Op.SET:
        return "bool" if int(flags) & _F_NX_XX else "empty"
    return _SHAPE_OF_OP.get(op, "empty")


def encode_reply(shape: str, value: Any) -> bytes:
    """The Ok payload for ``value`` (the Python form decode_reply returns)."""
    if shape == "empty":
        return b""
    if shape == "bool":
        return b"\x01" if value else b"\x00"
    if shape == "value":
        return _value(value)
    if shape == "mget":
        parts = [struct.pack("<I", len(value))]
        for v in value:
            parts.append(b"\x01" if v is None else b"\x00" + _value(v))
        return b"".join(parts)
    if shape == "count":
        return struct.pack("<I", value)
    if shape == "vector":
        data = floats_to_bytes(value)
        return struct.pack("<I", len(data)) + data
    if shape == "search":
        return struct.pack("<I", len(value)) + b"".join(
            struct.pack("<Qf", i, s) for i, s in value
        )
    if shape == "index_list":
        parts = [struct.pack("<I", len(value))]
        for info in value:
            info = IndexInfo(*info)
            parts.append(
                _short(info.name, "name")
                + struct.pack(
                    "<IBBQ", info.dim, _kind(info.kind), _backend(info.backend), info.n_vectors
                )
            )
        return b"".join(parts)
    if shape == "stats":
        return struct.pack("<4Q", *value)
    if shape == "shards":
        return struct.pack("<I", len(value)) + b"".join(struct.pack("<I4Q", *s) for s in value)
    if shape == "text":
        return _short(value, "text")
    raise ValueError(f"unknown reply shape {shape!r}")


def decode_reply(shape: str, payload: bytes) -> Any:
    """Parses an Ok payload of ``shape``; raises ProtocolError (a broken server)."""
    # The common shapes first, without a reader (the same checks, fewer Python calls).
    if shape == "value" and len(payload) >= 4:
        n = len(payload) - 4
        if _U32.unpack_from(payload)[0] == n:
            return payload[4:]
    elif shape == "empty" and not payload:
        return None
    r = _Reader(payload, ProtocolError)
    if shape == "empty":
        out: Any = None
    elif shape == "bool":
        out = r.boolean()
    elif shape == "value":
        out = r.value()
    elif shape == "mget":
        out = []
        for _ in range(r.count(1)):
            tag = r.u8()
            if tag == 0:
                out.append(r.value())
            elif tag == 1:
                out.append(None)
            else:
                raise ProtocolError("MGET entry tag is neither 0 nor 1")
    elif shape == "count":
        out = r.u32()
    elif shape == "vector":
        n = r.u32()
        if n % 4:
            raise ProtocolError("vector byte_len not a multiple of 4")
        out = bytes_to_floats(r.take(n))
    elif shape == "search":
        out = [r.unpack("Qf") for _ in range(r.count(12))]
    elif shape == "index_list":
        out = []
        for _ in range(r.count(16)):
            name = r.name()
            dim, kind, backend, n_vectors = r.unpack("IBBQ")
            out.append(
                IndexInfo(
                    name,
                    dim,
                    KIND_NAMES.get(kind, f"kind{kind}"),
                    BACKEND_NAMES.get(backend, f"backend{backend}"),
                    n_vectors,
                )
            )
    elif shape == "stats":
        out = Stats(*r.unpack("4Q"))
    elif shape == "shards":
        out = [ShardInfo(*r.unpack("I4Q")) for _ in range(r.count(36))]
    elif shape == "text":
        out = r.short().decode("utf-8", errors="replace")
    else:
        raise ValueError(f"unknown reply shape {shape!r}")
    r.end()
    return out


def encode_error(req_id: int, code: int, message: str | bytes) -> bytes:
    """An Err frame; the message is cut to 255 bytes on a UTF-8 character boundary."""
    msg = _b(message)
    if len(msg) > MAX_ERROR_MESSAGE:
        n = MAX_ERROR_MESSAGE
        while n > 0 and (msg[n] & 0xC0) == 0x80:
            n -= 1
        msg = msg[:n]
    return encode_frame(Op.ERR, req_id, bytes([code, len(msg)]) + msg)


def decode_error(payload: bytes) -> tuple[int, str]:
    """(code, message) of an Err payload; raises ProtocolError."""
    r = _Reader(payload, ProtocolError)
    code = r.u8()
    msg = r.take(r.u8())
    r.end()
    return code, msg.decode("utf-8", errors="replace")
