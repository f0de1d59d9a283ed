"""UAS dialogs (RFC 3261 §12).

A dialog is created from an INVITE (or SUBSCRIBE/REFER) and the local tag we put in our
response (§12.1.1): its id is (Call-ID, local tag, remote tag); the remote target is the
request's Contact URI; the route set is the Record-Route list in order; the remote sequence
number is the request's CSeq and the local one is chosen when we first send.

In-dialog requests we receive are checked with :meth:`Dialog.check_request` (a lower CSeq
gives 500, §12.2.2); requests we send (BYE, REFER, NOTIFY, re-INVITE…) are built with
:meth:`Dialog.make_request` (§12.2.1.1, including strict-routing fallback).  A
:class:`DialogTable` finds the dialog of an incoming request or returns None (→ 481).
"""

from __future__ import annotations

from collections.abc import Iterable

from edge.sip.builders import make_request, new_branch
from edge.sip.errors import SipParseError
from edge.sip.headers import Address, SipUri
from edge.sip.message import SipRequest

DialogId = tuple[str, str, str]
TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})


class Dialog:
    __slots__ = (
        "call_id",
        "local_contact",
        "local_seq",
        "local_tag",
        "local_uri",
        "remote_seq",
        "remote_tag",
        "remote_target",
        "remote_uri",
        "route_set",
        "secure",
    )

    def __init__(
        self,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_uri: str,
        remote_uri: str,
        remote_target: str,
        route_set: tuple[str, ...],
        remote_seq: int,
        local_contact: str,
        local_seq: int | None = None,
        secure: bool = False,
    ) -> None:
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri
        self.remote_uri = remote_uri
        self.remote_target = remote_target
        self.route_set = route_set
        self.remote_seq = remote_seq
        self.local_seq = local_seq
        self.local_contact = local_contact
        self.secure = secure

    @classmethod
    def from_request(cls, request: SipRequest, local_tag: str, local_contact: str) -> Dialog:
        """The UAS side of the dialog created by ``request`` answered with ``local_tag`` (§12.1.1)."""
        contacts = request.contacts
        if len(contacts) != 1:
            raise SipParseError("a dialog-creating request needs exactly one Contact")
        ruri = request.request_uri
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_addr.tag or "",
            local_uri=str(request.to_addr.uri),
            remote_uri=str(request.from_addr.uri),
            remote_target=str(contacts[0].uri),
            route_set=tuple(str(a) for a in request.record_routes),
            remote_seq=request.cseq.seq,
            local_contact=local_contact,
            secure=isinstance(ruri, SipUri) and ruri.scheme == "sips",
        )

    @property
    def id(self) -> DialogId:
        return (self.call_id, self.local_tag, self.remote_tag)

    def check_request(self, request: SipRequest) -> int | None:
        """Accept an in-dialog request: None if fine, else the status to answer (§12.2.2)."""
        if request.method in ("ACK", "CANCEL"):
            return None  # ACK/CANCEL reuse the CSeq number of their INVITE
        seq = request.cseq.seq
        if seq <= self.remote_seq:
            return 500
        self.remote_seq = seq
        if request.method in TARGET_REFRESH and request.contacts:
            self.remote_target = str(request.contacts[0].uri)
        return None

    def next_local_seq(self) -> int:
        self.local_seq = 1 if self.local_seq is None else self.local_seq + 1
        return self.local_seq

    def make_request(
        self,
        method: str,
        *,
        via_host: str,
        via_port: int,
        transport: str = "UDP",
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        cseq: int | None = None,
    ) -> SipRequest:
        """A request inside this dialog (§12.2.1.1).  ACK/CANCEL callers pass ``cseq``."""
        seq = cseq if cseq is not None else self.next_local_seq()
        routes = list(self.route_set)
        uri = self.remote_target
        if routes and not _is_loose(routes[0]):  # strict router: R-URI = first route (§12.2.1.1)
            uri = str(Address.parse(routes[0]).uri)
            routes = [*routes[1:], f"<{self.remote_target}>"]
        return make_request(
            method, uri,
            via=f"SIP/2.0/{transport} {via_host}:{via_port};branch={new_branch()};rport",
            from_=f"<{self.local_uri}>;tag={self.local_tag}",
            to=f"<{self.remote_uri}>" + (f";tag={self.remote_tag}" if self.remote_tag else ""),
            call_id=self.call_id, cseq=seq, routes=routes, contact=self.local_contact,
            headers=headers, body=body, content_type=content_type,
        )  # fmt: skip

    def bye(
        self, *, via_host: str, via_port: int, reason: str | None = None, transport: str = "UDP"
    ) -> SipRequest:
        extra = [("Reason", reason)] if reason else []
        return self.make_request(
            "BYE", via_host=via_host, via_port=via_port, transport=transport, headers=extra
        )

    def refer(self, refer_to: str, *, via_host: str, via_port: int) -> SipRequest:
        """REFER for a blind transfer (RFC 3515); expect NOTIFYs with message/sipfrag bodies."""
        return self.make_request(
            "REFER",
            via_host=via_host,
            via_port=via_port,
            headers=[("Refer-To", f"<{refer_to}>"), ("Referred-By", f"<{self.local_uri}>")],
        )


def _is_loose(route: str) -> bool:
    try:
        uri = Address.parse(route).uri
    except SipParseError:
        return True
    return not isinstance(uri, SipUri) or uri.param("lr") is not None


def sipfrag_status(body: bytes) -> int | None:
    """Status code of a NOTIFY's message/sipfrag body (RFC 3515 §2.4.5), e.g. ``SIP/2.0 200 OK``."""
    line = body.split(b"\r\n", 1)[0].split(b"\n", 1)[0].split()
    if len(line) >= 2 and line[0].upper() == b"SIP/2.0" and line[1].isdigit() and len(line[1]) == 3:
        return int(line[1])
    return None


class DialogTable:
    """Dialogs by (Call-ID, local tag, remote tag)."""

    def __init__(self) -> None:
        self._dialogs: dict[DialogId, Dialog] = {}

    def __len__(self) -> int:
        return len(self._dialogs)

    def add(self, dialog: Dialog) -> None:
        self._dialogs[dialog.id] = dialog

    def remove(self, dialog_id: DialogId) -> Dialog | None:
        return self._dialogs.pop(dialog_id, None)

    def get(self, dialog_id: DialogId) -> Dialog | None:
        return self._dialogs.get(dialog_id)

    def match(self, request: SipRequest) -> Dialog | None:
        """The dialog of an incoming in-dialog request (local tag = To tag), or None (→ 481)."""
        to_tag = request.to_addr.tag
        if not to_tag:
            return None
        return self._dialogs.get((request.call_id, to_tag, request.from_addr.tag or ""))
