"""Addresses in the UAS core's messages: our Contact and Via port per transport, the user of a URI."""

from __future__ import annotations

from typing import Any

from edge.sip.errors import SipParseError
from edge.sip.message import SipRequest
from edge.uas.config import UasConfig


def user_of(uri: Any) -> str:
    return getattr(uri, "user", None) or ""


def host_of(uri: Any) -> str:
    """A SIP URI's host (an absolute URI has none: "")."""
    return getattr(uri, "host", None) or ""


def wants_sips(req: SipRequest) -> bool:
    """The dialog must be secure end to end (RFC 3261 §12.1.1, RFC 5630 §4.1): the Request-URI is
    ``sips:``, or the top Record-Route is, or — with no Record-Route — the caller's Contact is."""
    try:
        if getattr(req.request_uri, "scheme", "") == "sips":
            return True
        routes = req.record_routes
        if routes:
            return getattr(routes[0].uri, "scheme", "") == "sips"
        contacts = req.contacts
        return bool(contacts) and getattr(contacts[0].uri, "scheme", "") == "sips"
    except SipParseError:
        return False


class LocalAddresses:
    """Our own SIP addresses, from the configuration."""

    __slots__ = ("host", "port", "tls_port")

    def __init__(self, config: UasConfig) -> None:
        self.host = config.host
        self.port = config.port
        self.tls_port = config.tls_port

    def port_for(self, transport: str) -> int:
        """Our port for a transport (Via sent-by, Contact): TLS listens on a port of its own."""
        if transport == "tls" and self.tls_port is not None:
            return self.tls_port
        return self.port

    def contact(self, transport: str, req: SipRequest | None = None) -> str:
        """Our Contact for a dialog over ``transport``.  Over TLS it names the TLS port: ``sips:`` when
        the request asks for a secure dialog (RFC 3261 §12.1.1: a SIPS Request-URI, top Record-Route
        or, without Record-Route, Contact), else ``sip:...;transport=tls``: RFC 3261 §26.2.2
        deprecates the parameter, but it is what phones over TLS (baresip, Asterisk, Linphone) put in
        their own Contact and need back to reach us on the TLS port rather than with TCP."""
        host, port = self.host, self.port_for(transport)
        if transport == "tls":
            if req is not None and wants_sips(req):
                return f"<sips:{host}:{port}>"
            return f"<sip:{host}:{port};transport=tls>"
        suffix = ";transport=tcp" if transport == "tcp" else ""
        return f"<sip:{host}:{port}{suffix}>"
