"""skeg: Python client for the skeg vector database + Redis-compatible KV server.

* :class:`skeg.Client` speaks skeg's native binary protocol (port 7379): KV ops, vector ops,
  pipelining, typed exceptions per error code.
* :mod:`skeg.resp` wraps the ``SKEG.*`` vector commands of the RESP port (6379) for a
  redis-py client.
* :mod:`skeg.protocol` is the frame codec itself (useful for tests and tools).

Standard library only; numpy arrays are accepted wherever a vector is.
"""

from .client import DEFAULT_PORT, Client, Pipeline
from .errors import (
    ConnectionLost,
    InternalError,
    InvalidRequest,
    NotFound,
    PayloadError,
    ProtocolError,
    QuotaExceeded,
    ReadOnly,
    ServerError,
    SkegError,
    Unauthorized,
)
from .protocol import Flag, IndexInfo, Op, ShardInfo, Stats

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Pipeline",
    "DEFAULT_PORT",
    "SkegError",
    "ServerError",
    "NotFound",
    "InvalidRequest",
    "InternalError",
    "Unauthorized",
    "QuotaExceeded",
    "ReadOnly",
    "ProtocolError",
    "PayloadError",
    "ConnectionLost",
    "Op",
    "Flag",
    "IndexInfo",
    "Stats",
    "ShardInfo",
]
