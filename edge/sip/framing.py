"""Stream framing for SIP over TCP/TLS (RFC 3261 §18.3, RFC 5626 §3.5.1).

On a stream the message boundary is the Content-Length header, which is therefore mandatory.
Between messages a peer may send keep-alives: a double CRLF ``ping`` (answer with a single CRLF
``pong``) or stray CRLFs, which are skipped.  The framer only finds boundaries; each frame is then
handed to :func:`edge.sip.message.parse_message`.  A framing error is fatal for the connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.sip.errors import SipParseError

PING = b"\r\n\r\n"
PONG = b"\r\n"
DEFAULT_MAX_MESSAGE = 65535


@dataclass(frozen=True, slots=True)
class KeepAlivePing:
    """A CRLFCRLF ping was received; the transport should write :data:`PONG`."""


class StreamFramer:
    """Splits a byte stream into SIP messages.  ``feed`` returns complete frames in order."""

    def __init__(self, max_message: int = DEFAULT_MAX_MESSAGE) -> None:
        self._buf = bytearray()
        self._max = max_message

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[bytes | KeepAlivePing]:
        buf = self._buf
        buf += data
        out: list[bytes | KeepAlivePing] = []
        while buf:
            if buf[:4] == PING:
                out.append(KeepAlivePing())
                del buf[:4]
                continue
            if buf[:2] == b"\r\n":
                if len(buf) < 4 and PING.startswith(bytes(buf)):
                    break  # maybe the start of a ping
                del buf[:2]
                continue
            if buf[:1] == b"\n":
                del buf[:1]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._max:
                    raise SipParseError(f"message headers exceed {self._max} octets")
                break
            length = _content_length(bytes(buf[:end]))
            total = end + 4 + length
            if total > self._max:
                raise SipParseError(f"message of {total} octets exceeds {self._max}")
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.strip().lower() in (b"content-length", b"l"):
            value = value.strip()
            if not value.isdigit():
                raise SipParseError(f"invalid Content-Length: {value[:20]!r}")
            return int(value)
    raise SipParseError("missing Content-Length on a stream transport")
