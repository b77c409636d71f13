"""Exceptions raised by the skeg client.

Every exception derives from :class:`SkegError`. Err frames from the server become a
:class:`ServerError` subclass chosen by the error code of the native protocol; transport and
framing failures are :class:`ConnectionLost` and :class:`ProtocolError`.
"""

from __future__ import annotations

import builtins


class SkegError(Exception):
    """Base class of every error raised by this package."""


class ProtocolError(SkegError):
    """The byte stream broke the native protocol (bad magic, version, op, flag or length).

    Connection-fatal: the client closes the socket; make a new client.
    """


class PayloadError(SkegError):
    """A frame with a valid header carries a payload that does not parse.

    Raised by the codec's decoders; a server answers it with Err InvalidRequest and keeps the
    connection.
    """


class ConnectionLost(SkegError, builtins.ConnectionError):
    """The TCP connection failed or was closed; the client is unusable afterwards."""


class ServerError(SkegError):
    """An Err frame: ``code`` is the native error code, ``message`` the server's text."""

    code = 0

    def __init__(self, message: str = "", code: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, message={self.message!r})"


class NotFound(ServerError):
    """0x01: missing key, vector id or index."""

    code = 0x01


class InvalidRequest(ServerError):
    """0x02: the request did not parse or is semantically invalid."""

    code = 0x02


class InternalError(ServerError):
    """0x03: storage failure (I/O error, disk full)."""

    code = 0x03


class Unauthorized(ServerError):
    """0x04: AUTH failed, or the server requires authentication."""

    code = 0x04


class QuotaExceeded(ServerError):
    """0x05: a tenant quota would be exceeded."""

    code = 0x05


class ReadOnly(ServerError):
    """0x06: a write on a server in serve (read-only) mode."""

    code = 0x06


ERROR_CLASSES = {
    cls.code: cls
    for cls in (NotFound, InvalidRequest, InternalError, Unauthorized, QuotaExceeded, ReadOnly)
}


def error_for_code(code: int, message: str) -> ServerError:
    """The exception instance for an Err frame (a plain ServerError for unknown codes)."""
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        return ServerError(message, code=code)
    return cls(message)
