"""Byte-exact codec tests against the hand-written spec frames in frames.json (shared with the
C++ codec test), plus resumability, malformed input and LZ4."""

from __future__ import annotations

import os
import random
import struct

import pytest

from skeg import lz4block
from skeg import protocol as P
from skeg.errors import PayloadError, ProtocolError

F = P.Flag

# name -> (op, flags, payload, expected decode_request args)
REQUESTS = {
    "req_get": (P.Op.GET, 0, P.payload_get("foo"), {"key": b"foo"}),
    "req_set": (P.Op.SET, 0, P.payload_set("k", "hello"),
                {"key": b"k", "value": b"hello", "nx": False, "xx": False}),
    "req_set_nx": (P.Op.SET, F.SET_NX, P.payload_set("k", "v"),
                   {"key": b"k", "value": b"v", "nx": True, "xx": False}),
    "req_set_xx_wait_durable": (P.Op.SET, F.SET_XX | F.WAIT_DURABLE, P.payload_set("k", "v"),
                                {"key": b"k", "value": b"v", "nx": False, "xx": True}),
    "req_del_no_reply": (P.Op.DEL, F.NO_REPLY, P.payload_del(b"k"), {"key": b"k"}),
    "req_mget": (P.Op.MGET, 0, P.payload_keys(["a", b"bc"]), {"keys": [b"a", b"bc"]}),
    "req_mset": (P.Op.MSET, 0, P.payload_mset({"a": "1", "b": ""}),
                 {"pairs": [(b"a", b"1"), (b"b", b"")]}),
    "req_exists": (P.Op.EXISTS, 0, P.payload_exists("k"), {"key": b"k"}),
    "req_mexists": (P.Op.MEXISTS, 0, P.payload_keys(["a", "b"]), {"keys": [b"a", b"b"]}),
    "req_vindex_create": (P.Op.VINDEX_CREATE, 0, P.payload_vindex_create("idx", 4, "tq2", "disk"),
                          {"name": "idx", "dim": 4, "kind": "tq2", "backend": "disk"}),
    "req_vindex_drop": (P.Op.VINDEX_DROP, 0, P.payload_name("idx"), {"name": "idx"}),
    "req_vset": (P.Op.VSET, 0, P.payload_vset("idx", 7, [1.0, -2.0]),
                 {"name": "idx", "id": 7, "vec": [1.0, -2.0]}),
    "req_vget": (P.Op.VGET, 0, P.payload_name_id("idx", 7), {"name": "idx", "id": 7}),
    "req_vdel": (P.Op.VDEL, 0, P.payload_name_id("idx", 7), {"name": "idx", "id": 7}),
    "req_vsearch": (P.Op.VSEARCH, 0, P.payload_vsearch("idx", 10, [0.5]),
                    {"name": "idx", "k": 10, "vec": [0.5], "l_search": 0}),
    "req_vsearch_l_search": (P.Op.VSEARCH, 0, P.payload_vsearch("idx", 10, [0.5], 64),
                             {"name": "idx", "k": 10, "vec": [0.5], "l_search": 64}),
    "req_vindex_list": (P.Op.VINDEX_LIST, 0, b"", {}),
    "req_ping": (P.Op.PING, 0, b"", {}),
    "req_stats": (P.Op.STATS, 0, b"", {}),
    "req_flush": (P.Op.FLUSH, 0, b"", {}),
    "req_shards": (P.Op.SHARDS, 0, b"", {}),
    "req_auth": (P.Op.AUTH, 0, P.payload_auth("al", "pw1"), {"user": b"al", "password": b"pw1"}),
    "req_whoami": (P.Op.WHOAMI, 0, b"", {}),
    "req_set_lz4_literals": (P.Op.SET, F.COMPRESSED_LZ4, P.payload_set("k", "v"),
                             {"key": b"k", "value": b"v", "nx": False, "xx": False}),
    "req_set_lz4_match": (P.Op.SET, F.COMPRESSED_LZ4, P.payload_set("k", "a" * 32),
                          {"key": b"k", "value": b"a" * 32, "nx": False, "xx": False}),
}  # fmt: skip
REQ_IDS = {name: i + 1 for i, name in enumerate(REQUESTS)}

# name -> (req_id, shape, value) for Ok; (req_id, code, message) for Err
RESPONSES = {
    "resp_ok_empty": (2, "empty", None),
    "resp_get": (1, "value", b"hello"),
    "resp_set_nx_written": (3, "bool", True),
    "resp_del_absent": (5, "bool", False),
    "resp_mget": (6, "mget", [b"x", None]),
    "resp_mexists": (9, "count", 1),
    "resp_vget": (13, "vector", [1.0, -2.0]),
    "resp_vsearch": (15, "search", [(7, 1.0), (9, 0.5)]),
    "resp_vindex_list": (17, "index_list", [P.IndexInfo("idx", 4, "tq2", "disk", 42)]),
    "resp_stats": (19, "stats", P.Stats(1, 2, 3, 4)),
    "resp_shards": (21, "shards", [P.ShardInfo(0, 10, 0, 5, 256)]),
    "resp_whoami": (23, "text", "default"),
}
ERRORS = {
    "err_not_found": (1, 1, "no such key"),
    "err_invalid_request": (18, 2, "bad"),
    "err_internal": (20, 3, ""),
    "err_unauthorized": (22, 4, "auth"),
    "err_quota_exceeded": (2, 5, "quota"),
    "err_read_only": (2, 6, "ro"),
}


def parse_one(data: bytes) -> P.Frame:
    parser = P.FrameParser()
    parser.feed(data)
    frame = parser.next_frame()
    assert frame is not None and parser.pending == 0
    return frame


def test_fixture_covers_every_op_and_error(frames):
    names = set(frames["frames"])
    assert names == set(REQUESTS) | set(RESPONSES) | set(ERRORS)
    request_ops = {f["bytes"][3] for f in frames["frames"].values() if f["kind"] == "request"}
    assert request_ops == {int(o) for o in P.Op} - {0xC0, 0xC1, 0xC2}
    assert {code for _, code, _ in ERRORS.values()} == {1, 2, 3, 4, 5, 6}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_request_encodes_byte_exact_and_decodes(frames, name):
    op, flags, payload, args = REQUESTS[name]
    fixture = frames["frames"][name]
    req_id = REQ_IDS[name]
    if fixture.get("encode", True):
        assert P.encode_frame(op, req_id, payload, flags).hex() == fixture["bytes"].hex()
    req = P.decode_request(parse_one(fixture["bytes"]))
    assert (req.op, req.flags, req.req_id, req.args) == (op, flags, req_id, args)


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_ok_reply_encodes_byte_exact_and_decodes(frames, name):
    req_id, shape, value = RESPONSES[name]
    fixture = frames["frames"][name]
    assert fixture["shape"] == shape
    wire = P.encode_frame(P.Op.OK, req_id, P.encode_reply(shape, value))
    assert wire.hex() == fixture["bytes"].hex()
    frame = parse_one(fixture["bytes"])
    assert (frame.op, frame.req_id) == (P.Op.OK, req_id)
    assert P.decode_reply(shape, P.frame_payload(frame)) == value


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_error_reply_encodes_byte_exact_and_decodes(frames, name):
    req_id, code, message = ERRORS[name]
    fixture = frames["frames"][name]
    assert P.encode_error(req_id, code, message).hex() == fixture["bytes"].hex()
    frame = parse_one(fixture["bytes"])
    assert frame.op == P.Op.ERR and frame.req_id == req_id
    assert P.decode_error(frame.payload) == (code, message)


def test_split_at_every_byte_is_resumable(frames):
    stream = b"".join(f["bytes"] for f in frames["frames"].values())
    whole = P.FrameParser()
    whole.feed(stream)
    expected = whole.frames()
    assert len(expected) == len(frames["frames"])
    for f in frames["frames"].values():
        data = f["bytes"]
        for cut in range(len(data) + 1):
            parser = P.FrameParser()
            parser.feed(data[:cut])
            got = parser.next_frame()
            if cut < len(data):
                assert got is None
                assert parser.required() > cut
                parser.feed(data[cut:])
                got = parser.next_frame()
            assert got == parse_one(data)
    # byte by byte across the whole pipelined stream
    parser = P.FrameParser()
    got = []
    for i in range(len(stream)):
        parser.feed(stream[i : i + 1])
        got += parser.frames()
    assert got == expected


@pytest.mark.parametrize("expect", ["fatal", "need_more", "invalid_request", "ok"])
def test_malformed_frames_give_the_right_error_class(frames, expect):
    cases = [f for f in frames["malformed"].values() if f["expect"] == expect]
    assert cases
    for f in cases:
        parser = P.FrameParser()
        parser.feed(f["bytes"])
        if expect == "fatal":
            with pytest.raises(ProtocolError):
                parser.next_frame()
            with pytest.raises(ProtocolError):  # sticky
                parser.next_frame()
        elif expect == "need_more":
            assert parser.next_frame() is None, f["name"]
        else:
            frame = parser.next_frame()
            assert frame is not None, f["name"]
            if expect == "ok":
                P.decode_request(frame)
            else:
                with pytest.raises(PayloadError):
                    P.decode_request(frame)
                    pytest.fail(f["name"])


def _cut(data: bytes, n: int) -> bytes:
    return data[:16] + struct.pack("<I", n) + data[20 : 24 + n]


def test_every_truncated_payload_is_an_error(frames):
    for name, f in frames["frames"].items():
        data = f["bytes"]
        for n in range(len(data) - 24):
            frame = parse_one(_cut(data, n))
            if f["kind"] == "request":
                if name == "req_vsearch_l_search" and n == len(data) - 24 - 4:
                    P.decode_request(frame)  # the optional l_search is absent: valid
                    continue
                with pytest.raises(PayloadError):
                    P.decode_request(frame)
            elif name.startswith("err_"):
                with pytest.raises(ProtocolError):
                    P.decode_error(frame.payload)
            else:
                with pytest.raises(ProtocolError):
                    P.decode_reply(f["shape"], frame.payload)


def test_huge_counts_are_rejected_before_allocating():
    for shape in ("mget", "search", "index_list", "shards"):
        with pytest.raises(ProtocolError):
            P.decode_reply(shape, b"\xff\xff\xff\xff")
    frame = P.Frame(P.Op.MGET, 0, 1, b"\xff\xff\xff\xff")
    with pytest.raises(PayloadError):
        P.decode_request(frame)


def test_encoder_limits():
    with pytest.raises(ValueError):
        P.payload_get(b"k" * 65536)
    P.payload_get(b"k" * 65535)
    with pytest.raises(ValueError):
        P.encode_frame(P.Op.SET, 1, b"x" * (P.MAX_PAYLOAD + 1))
    with pytest.raises(ValueError):
        P.encode_frame(P.Op.PING, 1, b"", 1 << 8)
    assert P.MAX_PAYLOAD == 16777216


def test_error_message_cut_at_255_bytes_on_a_character_boundary():
    frame = parse_one(P.encode_error(1, 3, "a" * 300))
    assert P.decode_error(frame.payload) == (3, "a" * 255)
    frame = parse_one(P.encode_error(1, 3, "a" * 254 + "é" + "tail"))
    assert P.decode_error(frame.payload) == (3, "a" * 254)


def test_reply_shapes_follow_the_spec():
    assert P.reply_shape(P.Op.SET) == "empty"
    assert P.reply_shape(P.Op.SET, F.SET_NX) == "bool"
    assert P.reply_shape(P.Op.SET, F.SET_XX) == "bool"
    assert P.reply_shape(P.Op.MGET) == "mget"
    assert P.reply_shape(P.Op.VGET) == "vector"
    assert P.reply_shape(P.Op.WHOAMI) == "text"
    assert P.suppresses_reply(P.Op.VDEL, F.NO_REPLY)
    assert not P.suppresses_reply(P.Op.GET, F.NO_REPLY)


def test_numpy_vectors_if_available():
    np = pytest.importorskip("numpy")
    v = np.array([1.0, -2.0], dtype=np.float64)
    assert P.payload_vset("idx", 7, v) == P.payload_vset("idx", 7, [1.0, -2.0])


# ---------------------------------------------------------------- LZ4


def test_pure_lz4_matches_the_hand_written_blocks(frames):
    # < 13 bytes: a literal-only block, exactly as liblz4 writes it.
    raw = P.payload_set("k", "v")
    assert lz4block.compress_pure(raw) == bytes([0x80]) + raw
    # the hand-written block with a match decodes with the pure decoder
    payload = frames["frames"]["req_set_lz4_match"]["bytes"][24:]
    assert lz4block.decompress_pure(payload[4:], 39) == P.payload_set("k", "a" * 32)


@pytest.mark.parametrize("seed", range(5))
def test_pure_lz4_round_trips(seed):
    rng = random.Random(seed)
    samples = [b"", b"a", b"abcd" * 3, b"x" * 13, b"x" * 1000, os.urandom(300),
               bytes(rng.choice(b"ab") for _ in range(5000)),
               b"".join(b"key-%d " % (i % 50) for i in range(3000))]  # fmt: skip
    for raw in samples:
        block = lz4block.compress_pure(raw)
        assert lz4block.decompress_pure(block, len(raw)) == raw
        if len(raw) > 1000 and raw.count(raw[:1]) > 100:
            assert len(block) < len(raw)


def test_lz4_rejects_corrupt_blocks():
    for block, size in [(b"", 0), (b"\xf0", 20), (b"\x10a\x05\x00", 10), (b"\x00", 1),
                        (b"\x80abcd", 4)]:  # fmt: skip
        with pytest.raises(lz4block.LZ4Error):
            lz4block.decompress_pure(block, size)
    with pytest.raises(PayloadError):
        P.decompress_payload(b"\x00\x00\x00\x01\x00")  # 16 MiB from one byte


def _liblz4():
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("lz4") or "liblz4.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError:
        pytest.skip("liblz4 shared library not available")
    lib.LZ4_decompress_safe.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                        ctypes.c_int]  # fmt: skip
    lib.LZ4_decompress_safe.restype = ctypes.c_int
    return lib, ctypes


def test_pure_lz4_output_is_accepted_by_liblz4():
    """What the server uses (liblz4's LZ4_decompress_safe) decodes the pure compressor's
    blocks, including the end-of-block rules (last 5 bytes literal, no match in the last 12)."""
    lib, ctypes = _liblz4()
    rng = random.Random(7)
    samples = [b"", b"x", b"x" * 12, b"x" * 13, b"x" * 17, b"ab" * 40, os.urandom(64),
               bytes(rng.choice(b"abc") for _ in range(20000)),
               b"".join(b"key-%d " % (i % 50) for i in range(3000))]  # fmt: skip
    samples += [bytes(rng.choice(b"ab") for _ in range(n)) for n in range(1, 80)]
    for raw in samples:
        block = lz4block.compress_pure(raw)
        out = ctypes.create_string_buffer(max(1, len(raw)))
        n = lib.LZ4_decompress_safe(block, out, len(block), len(raw))
        assert n == len(raw) and out.raw[: len(raw)] == raw, raw[:40]
