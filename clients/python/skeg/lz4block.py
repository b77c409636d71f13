"""LZ4 *block* format (not the frame format), as the native protocol's COMPRESSED_LZ4 uses it.

Pure standard library. When the ``lz4`` package (Debian ``python3-lz4``) is importable its C
implementation is used instead, for speed; both produce valid LZ4 blocks that any decoder
(the server's liblz4 included) accepts. The pure compressor is a simple greedy matcher: slower
and compressing a little less than liblz4, but byte-compatible.
"""

from __future__ import annotations

try:  # optional accelerator
    import lz4.block as _lz4_block  # type: ignore
except ImportError:  # pragma: no cover - depends on the machine
    _lz4_block = None

MIN_MATCH = 4
MF_LIMIT = 12  # the last match starts at least 12 bytes before the end
LAST_LITERALS = 5  # the last 5 bytes are always literals
MAX_OFFSET = 65535


class LZ4Error(ValueError):
    """The block is corrupt or does not decode to the declared size."""


def _put_length(out: bytearray, n: int) -> None:
    while n >= 255:
        out.append(255)
        n -= 255
    out.append(n)


def _emit(out: bytearray, literals: bytes, offset: int = 0, match_len: int = 0) -> None:
    lit = len(literals)
    ml = match_len - MIN_MATCH if match_len else 0
    token = (min(lit, 15) << 4) | (min(ml, 15) if match_len else 0)
    out.append(token)
    if lit >= 15:
        _put_length(out, lit - 15)
    out += literals
    if match_len:
        out += offset.to_bytes(2, "little")
        if ml >= 15:
            _put_length(out, ml - 15)


def compress_pure(src: bytes) -> bytes:
    """Compresses ``src`` into one LZ4 block (pure Python, greedy hash matcher)."""
    src = bytes(src)
    n = len(src)
    out = bytearray()
    anchor = 0
    i = 0
    table: dict[bytes, int] = {}
    last_match_start = n - MF_LIMIT  # matches start strictly before this
    while i < last_match_start:
        seq = src[i : i + MIN_MATCH]
        cand = table.get(seq)
        table[seq] = i
        if cand is None or i - cand > MAX_OFFSET:
            i += 1
            continue
        match_len = MIN_MATCH
        max_len = n - LAST_LITERALS - i
        while match_len < max_len and src[cand + match_len] == src[i + match_len]:
            match_len += 1
        _emit(out, src[anchor:i], i - cand, match_len)
        i += match_len
        anchor = i
    _emit(out, src[anchor:])
    return bytes(out)


def decompress_pure(src: bytes, size: int) -> bytes:
    """Decodes one LZ4 block that must expand to exactly ``size`` bytes."""
    src = bytes(src)
    n = len(src)
    if n == 0:
        raise LZ4Error("empty LZ4 block")
    dst = bytearray()
    i = 0
    while True:
        token = src[i]
        i += 1
        lit = token >> 4
        if lit == 15:
            while True:
                if i >= n:
                    raise LZ4Error("truncated literal length")
                b = src[i]
                i += 1
                lit += b
                if b != 255:
                    break
        if i + lit > n or len(dst) + lit > size:
            raise LZ4Error("literals run past the block or the declared size")
        dst += src[i : i + lit]
        i += lit
        if i == n:
            break  # the last sequence has no match
        if i + 2 > n:
            raise LZ4Error("truncated match offset")
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        if offset == 0 or offset > len(dst):
            raise LZ4Error("match offset out of range")
        match_len = token & 15
        if match_len == 15:
            while True:
                if i >= n:
                    raise LZ4Error("truncated match length")
                b = src[i]
                i += 1
                match_len += b
                if b != 255:
                    break
        match_len += MIN_MATCH
        if len(dst) + match_len > size:
            raise LZ4Error("match runs past the declared size")
        start = len(dst) - offset
        if offset >= match_len:
            dst += dst[start : start + match_len]
        else:  # overlapping copy repeats the last `offset` bytes
            pattern = bytes(dst[start:])
            dst += (pattern * (match_len // offset + 1))[:match_len]
        if i >= n:
            raise LZ4Error("block ends with a match")
    if len(dst) != size:
        raise LZ4Error(f"block decodes to {len(dst)} bytes, {size} declared")
    return bytes(dst)


def compress(src: bytes) -> bytes:
    """One LZ4 block for ``src`` (liblz4 via python3-lz4 when available)."""
    if _lz4_block is not None:
        return _lz4_block.compress(bytes(src), store_size=False)
    return compress_pure(src)


def decompress(src: bytes, size: int) -> bytes:
    """Decodes one LZ4 block of exactly ``size`` output bytes; raises LZ4Error."""
    if _lz4_block is not None:
        try:
            out = _lz4_block.decompress(bytes(src), uncompressed_size=size)
        except Exception as e:  # lz4 raises LZ4BlockError
            raise LZ4Error(str(e)) from e
        if len(out) != size:
            raise LZ4Error(f"block decodes to {len(out)} bytes, {size} declared")
        return out
    return decompress_pure(src, size)
