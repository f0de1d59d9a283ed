"""Where a request the edge sends inside a dialog goes (RFC 3261 §8.1.2, §12.2.1.1; RFC 3263 §4).

The request itself (Request-URI and Route headers) comes from :meth:`edge.sip.dialog.Dialog.make_request`;
this module picks the next hop it is sent to, sans-IO::

    destination URI = first entry of the route set   (loose or strict router: the next hop either way)
                    | the remote target              (the peer's Contact, updated by target refreshes)
    transport       = TLS for sips: | the URI's ;transport= parameter | the dialog's transport
    address         = the URI's maddr | host, and its port (default 5060, 5061 for sips:)

Not the INVITE's source address: a BYE must follow a Record-Route proxy, and a phone that moved
(re-INVITE with a new Contact) is reached where it now is.  Two cases keep the flow the dialog came
in on (``fallback``): a host name, which would need a DNS lookup (RFC 3263) the sans-IO core cannot
make, and a connection-oriented transport whose flow already reaches that host — the caller's TCP
connection is reused rather than opening a second one towards its listening port (RFC 5923's
connection reuse, and the only path through a NAT).
"""

from __future__ import annotations

import ipaddress

from edge.sip.dialog import Dialog
from edge.sip.errors import SipParseError
from edge.sip.headers import Address, SipUri
from edge.uas.call import Call, Peer

DEFAULT_PORTS = {"sip": 5060, "sips": 5061}
TRANSPORTS = frozenset({"udp", "tcp", "tls"})
STREAMS = frozenset({"tcp", "tls"})  # connection-oriented: an open flow to the host is reused


def _ip_literal(host: str) -> str | None:
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def destination_uri(dialog: Dialog) -> str:
    """The URI whose host the request is sent to: the first route if any, else the remote target."""
    if dialog.route_set:
        return str(Address.parse(dialog.route_set[0]).uri)
    return dialog.remote_target


def next_hop(dialog: Dialog, fallback: Peer) -> Peer:
    """The transport and address for a request in ``dialog``; ``fallback`` is the dialog's flow."""
    try:
        uri = SipUri.parse(destination_uri(dialog))
    except SipParseError:
        return fallback
    host = _ip_literal(uri.param("maddr") or uri.host)
    if host is None:
        return fallback
    wanted = (uri.param("transport") or "").lower()
    if uri.scheme == "sips":  # TLS whatever the parameter says (RFC 5630 §3.1.3: transport=tls is moot)
        transport = "tls"
    else:
        transport = wanted if wanted in TRANSPORTS else fallback.transport
    if transport in STREAMS and fallback.transport == transport and fallback.addr[0] == host:
        return fallback
    return Peer(transport, (host, uri.port or DEFAULT_PORTS.get(uri.scheme, 5060)))


def call_hop(call: Call) -> Peer:
    """Where requests in the call's dialog go: its route set / remote target (the INVITE's source
    before there is a dialog)."""
    return next_hop(call.dialog, call.peer) if call.dialog is not None else call.peer
