"""A tiny in-process native-protocol server for the client tests, built on skeg.protocol.

One thread per connection (socketserver). Keeps a dict of keys and one dict of vector
indexes; honours NO_REPLY; answers a bad payload with Err InvalidRequest and closes the
connection on a broken header, as the spec demands. `garbage` makes it answer every frame
with raw bytes instead (to test clients against a broken server).
"""

from __future__ import annotations

import socketserver
import threading

from skeg import protocol as P
from skeg.errors import PayloadError, ProtocolError

NOT_FOUND, INVALID, INTERNAL, UNAUTHORIZED, QUOTA, READ_ONLY = 1, 2, 3, 4, 5, 6


class _Handler(socketserver.BaseRequestHandler):
    def handle(self):
        server = self.server
        parser = P.FrameParser()
        while True:
            try:
                data = self.request.recv(65536)
            except OSError:
                return
            if not data:
                return
            parser.feed(data)
            out = bytearray()
            try:
                frames = parser.frames()
            except ProtocolError:
                return  # connection-fatal: close without a reply
            for frame in frames:
                server.frames_seen += 1
                if server.garbage is not None:
                    out += server.garbage
                    continue
                out += server.answer(frame)
            if out:
                self.request.sendall(out)


class FakeServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.kv: dict[bytes, bytes] = {}
        self.indexes: dict[str, dict] = {}
        self.garbage: bytes | None = None
        self.frames_seen = 0
        self.flags_seen: list[int] = []
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.02})
        self._thread.daemon = True
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self):
        self.shutdown()
        self.server_close()

    def answer(self, frame: P.Frame) -> bytes:
        with self.lock:
            self.flags_seen.append(frame.flags)
            try:
                req = P.decode_request(frame)
            except PayloadError as e:
                return P.encode_error(frame.req_id, INVALID, str(e))
            result = self._execute(req)
        if isinstance(result, tuple) and result and result[0] == "err":
            return P.encode_error(frame.req_id, result[1], result[2])
        if P.suppresses_reply(req.op, req.flags):
            return b""
        shape = P.reply_shape(req.op, req.flags)
        return P.encode_frame(P.Op.OK, req.req_id, P.encode_reply(shape, result))

    def _execute(self, req: P.Request):
        a, op = req.args, req.op
        if op == P.Op.PING or op == P.Op.FLUSH:
            return None
        if op == P.Op.GET:
            if a["key"] not in self.kv:
                return ("err", NOT_FOUND, "no such key")
            return self.kv[a["key"]]
        if op == P.Op.SET:
            if a["key"] == b"readonly":
                return ("err", READ_ONLY, "serve mode")
            if a["key"] == b"quota":
                return ("err", QUOTA, "quota exceeded")
            if a["key"] == b"boom":
                return ("err", INTERNAL, "disk full")
            exists = a["key"] in self.kv
            write = not (a["nx"] or a["xx"]) or (a["nx"] and not exists) or (a["xx"] and exists)
            if write:
                self.kv[a["key"]] = a["value"]
            return write if (a["nx"] or a["xx"]) else None
        if op == P.Op.DEL:
            return self.kv.pop(a["key"], None) is not None
        if op == P.Op.EXISTS:
            return a["key"] in self.kv
        if op == P.Op.MGET:
            return [self.kv.get(k) for k in a["keys"]]
        if op == P.Op.MSET:
            self.kv.update(a["pairs"])
            return None
        if op == P.Op.MEXISTS:
            return sum(k in self.kv for k in a["keys"])
        if op == P.Op.VINDEX_CREATE:
            if a["name"] in self.indexes:
                return ("err", INVALID, "index exists")
            self.indexes[a["name"]] = {"dim": a["dim"], "kind": a["kind"],
                                       "backend": a["backend"], "vecs": {}}  # fmt: skip
            return None
        index = self.indexes.get(a.get("name"))
        if op in (P.Op.VINDEX_DROP, P.Op.VSET, P.Op.VGET, P.Op.VDEL, P.Op.VSEARCH) and not index:
            return ("err", NOT_FOUND, "no such index")
        if op == P.Op.VINDEX_DROP:
            del self.indexes[a["name"]]
            return None
        if op == P.Op.VSET:
            if len(a["vec"]) != index["dim"]:
                return ("err", INVALID, "dim mismatch")
            index["vecs"][a["id"]] = a["vec"]
            return None
        if op == P.Op.VGET:
            if a["id"] not in index["vecs"]:
                return ("err", NOT_FOUND, "no such id")
            return index["vecs"][a["id"]]
        if op == P.Op.VDEL:
            return index["vecs"].pop(a["id"], None) is not None
        if op == P.Op.VSEARCH:
            hits = [(i, sum(x * y for x, y in zip(v, a["vec"]))) for i, v in index["vecs"].items()]
            hits.sort(key=lambda h: -h[1])
            return hits[: a["k"]]
        if op == P.Op.VINDEX_LIST:
            return [P.IndexInfo(n, i["dim"], i["kind"], i["backend"], len(i["vecs"]))
                    for n, i in sorted(self.indexes.items())]  # fmt: skip
        if op == P.Op.STATS:
            return P.Stats(1, 2, len(self.kv), 4)
        if op == P.Op.SHARDS:
            return [P.ShardInfo(0, 1, 0, len(self.kv), 4)]
        if op == P.Op.AUTH:
            if (a["user"], a["password"]) != (b"al", b"pw1"):
                return ("err", UNAUTHORIZED, "bad credentials")
            return None
        if op == P.Op.WHOAMI:
            return "default"
        return ("err", INTERNAL, "not implemented")
