"""Helpers for skeg's ``SKEG.*`` vector commands on the RESP port (6379), over redis-py.

    import redis, skeg.resp
    r = redis.Redis(port=6379)
    v = skeg.resp.VectorCommands(r)
    v.vindex_create("docs", 3, kind="f32", backend="flat", metric="cosine")
    v.vset("docs", 1, [0.1, 0.2, 0.3], payload="lang=en year=2024", attr=7)
    v.vsearch("docs", 5, [0.1, 0.2, 0.3], filter="lang=en")   # [(1, 0.99...), ...]

Thin wrappers: each method builds the argument list of spec/COMMANDS.md "Vectors", calls
``client.execute_command(*args)`` and parses the reply. Works with RESP2 and RESP3 and with
``decode_responses`` on or off. Server errors surface as redis-py's ``ResponseError``.
Vectors travel as one bulk string of little-endian f32 (any sequence or numpy array).
"""

from __future__ import annotations

from typing import Any, Iterable

from .protocol import bytes_to_floats, floats_to_bytes


def _text(x: Any) -> str:
    return x.decode("utf-8", errors="replace") if isinstance(x, (bytes, bytearray)) else str(x)


def _number(text: str) -> Any:
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text


def _to_dict(reply: Any) -> dict:
    """A RESP3 map (dict) or a RESP2 flat [k, v, k, v] list as {str: value}."""
    if isinstance(reply, dict):
        items = reply.items()
    else:
        reply = list(reply)
        items = zip(reply[0::2], reply[1::2])
    out = {}
    for k, v in items:
        if isinstance(v, (bytes, bytearray)):
            v = _number(_text(v))
        elif isinstance(v, (list, dict)):
            v = _to_dict(v) if isinstance(v, dict) or len(v) % 2 == 0 else v
        out[_text(k)] = v
    return out


def _ok(reply: Any) -> bool:
    return reply is True or _text(reply) == "OK"


class VectorCommands:
    """SKEG.VINDEX.* and SKEG.V* for a redis-py client (``redis.Redis`` or compatible)."""

    def __init__(self, client: Any):
        self.client = client

    def _call(self, *args: Any) -> Any:
        return self.client.execute_command(*args)

    # --- indexes ---
    def vindex_create(self, name: str, dim: int, kind: str = "tq2", backend: str = "flat", *,
                      metric: str | None = None, m: int | None = None,
                      ef_construction: int | None = None,
                      alpha: float | None = None) -> bool:  # fmt: skip
        """SKEG.VINDEX.CREATE name dim kind backend [METRIC m] [M n] [EF_CONSTRUCTION n] [ALPHA x].

        kind: f32 int8 binary tq1 tq2 tq4 pq; backend: flat disk; metric: cosine l2 ip.
        """
        args: list[Any] = ["SKEG.VINDEX.CREATE", name, int(dim), kind, backend]
        if metric is not None:
            args += ["METRIC", metric]
        if m is not None:
            args += ["M", int(m)]
        if ef_construction is not None:
            args += ["EF_CONSTRUCTION", int(ef_construction)]
        if alpha is not None:
            args += ["ALPHA", repr(float(alpha))]
        return _ok(self._call(*args))

    def vindex_drop(self, name: str) -> bool:
        return _ok(self._call("SKEG.VINDEX.DROP", name))

    def vindex_list(self) -> list[dict]:
        """One dict per index: name, dim, kind, backend, metric, n_vectors (numbers as int)."""
        reply = self._call("SKEG.VINDEX.LIST")
        out = []
        for line in _text(reply or b"").splitlines():
            if not line.strip():
                continue
            fields = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
            out.append({k: _number(v) if k != "name" else v for k, v in fields.items()})
        return out

    def vindex_info(self, name: str) -> dict:
        """The SKEG.VINDEX.INFO map (dim, kind, backend, metric, n_vectors, deleted, ...)."""
        return _to_dict(self._call("SKEG.VINDEX.INFO", name))

    def vindex_consolidate(self, name: str) -> bool:
        return _ok(self._call("SKEG.VINDEX.CONSOLIDATE", name))

    # --- vectors ---
    def vset(self, name: str, vec_id: int, vec: Any, *, payload: str | bytes | None = None,
             attr: int | None = None) -> bool:  # fmt: skip
        """SKEG.VSET name id vec [PAYLOAD blob] [ATTR u64]."""
        args: list[Any] = ["SKEG.VSET", name, int(vec_id), floats_to_bytes(vec)]
        if payload is not None:
            args += ["PAYLOAD", payload]
        if attr is not None:
            args += ["ATTR", int(attr)]
        return _ok(self._call(*args))

    def vmset(self, name: str, items: Iterable) -> int:
        """SKEG.VMSET name id vec payload [...]; items are (id, vec) or (id, vec, payload).
        Returns the server's count."""
        args: list[Any] = ["SKEG.VMSET", name]
        for item in items:
            vec_id, vec = item[0], item[1]
            payload = item[2] if len(item) > 2 and item[2] is not None else b""
            args += [int(vec_id), floats_to_bytes(vec), payload]
        if len(args) == 2:
            raise ValueError("vmset needs at least one item")
        return int(self._call(*args))

    def vget(self, name: str, vec_id: int) -> list[float] | None:
        """The vector as floats, or None when the id is absent."""
        reply = self._call("SKEG.VGET", name, int(vec_id))
        if reply is None:
            return None
        if isinstance(reply, str):  # decode_responses=True cannot carry raw f32 reliably
            reply = reply.encode("latin-1")
        return bytes_to_floats(bytes(reply))

    def vdel(self, name: str, vec_id: int) -> bool:
        """True when the id existed."""
        return int(self._call("SKEG.VDEL", name, int(vec_id))) == 1

    def vsearch(self, name: str, k: int, vec: Any, l_search: int = 0, *,
                withpayload: bool = False, filter: str | None = None,
                range: tuple[int, int] | None = None) -> list[tuple]:  # fmt: skip
        """SKEG.VSEARCH name k l_search vec [WITHPAYLOAD] [FILTER expr] [RANGE lo hi].

        Returns [(id, score), ...] best first, or [(id, score, payload-or-None), ...] with
        withpayload. ids are ints, scores floats, payloads bytes (str with decode_responses).
        """
        args: list[Any] = ["SKEG.VSEARCH", name, int(k), int(l_search), floats_to_bytes(vec)]
        if withpayload:
            args.append("WITHPAYLOAD")
        if filter is not None:
            args += ["FILTER", filter]
        if range is not None:
            args += ["RANGE", int(range[0]), int(range[1])]
        reply = list(self._call(*args) or [])
        width = 3 if withpayload else 2
        if len(reply) % width:
            raise ValueError(f"SKEG.VSEARCH reply has {len(reply)} items, not a multiple of {width}")
        out = []
        for i in builtins_range(0, len(reply), width):
            hit: tuple = (int(_text(reply[i])), float(_text(reply[i + 1])))
            if withpayload:
                hit += (reply[i + 2],)
            out.append(hit)
        return out


builtins_range = range  # `range` is shadowed by vsearch's keyword argument
