"""Prometheus metrics of the edge's SIP side (at least what LiveKit SIP exports).

Module-level collectors in the default registry; the edge app serves them over HTTP.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

INVITES_RECEIVED = Counter("sentiric_sip_invites_received_total", "New-call INVITEs received")
INVITES_ACCEPTED = Counter("sentiric_sip_invites_accepted_total", "INVITEs answered 200 OK")
INVITES_REJECTED = Counter(
    "sentiric_sip_invites_rejected_total", "INVITEs refused with a final error response", ["reason"]
)
CALLS_ACTIVE = Gauge("sentiric_calls_active", "Calls on this edge (INVITE received, not yet ended)")
CALLS_ENDED = Counter("sentiric_calls_ended_total", "Calls ended", ["reason"])
SETUP_SECONDS = Histogram(
    "sentiric_sip_call_setup_seconds",
    "INVITE received to 200 OK sent",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REQUESTS = Counter("sentiric_sip_requests_total", "SIP requests received", ["method"])
RESPONSES_SENT = Counter("sentiric_sip_responses_total", "SIP responses sent", ["method", "class"])
RESPONSES_RECEIVED = Counter(
    "sentiric_sip_responses_received_total", "SIP responses received", ["method", "class"]
)
TRANSACTIONS = Counter("sentiric_sip_transactions_total", "Transactions created", ["kind"])
TRANSACTIONS_ACTIVE = Gauge("sentiric_sip_transactions_active", "Live transactions")
RETRANSMISSIONS = Counter("sentiric_sip_retransmissions_total", "Messages retransmitted by timers")
AUTH_FAILURES = Counter("sentiric_sip_auth_failures_total", "Digest authentication failures", ["reason"])
PARSE_ERRORS = Counter(
    "sentiric_sip_parse_errors_total", "Malformed SIP messages (answered 400 or dropped)", ["action"]
)
RATE_LIMITED = Counter(
    "sentiric_sip_rate_limited_total", "SIP requests dropped by a per-source rate limit", ["method"]
)
DROPPED = Counter(
    "sentiric_sip_dropped_total",
    "SIP messages dropped unanswered to protect others (blocked source, oversized, replayed from "
    "another source, too much to echo)",
    ["reason"],
)
SOURCES_BLOCKED = Counter(
    "sentiric_sip_sources_blocked_total", "Sources blocked after failed digest attempts"
)
TCP_REFUSED = Counter("sentiric_sip_tcp_refused_total", "SIP TCP connections refused or closed", ["reason"])
FACT_ERRORS = Counter("sentiric_sip_fact_errors_total", "Call facts the log refused (buffer full)")
REGISTRATIONS = Gauge("sentiric_sip_registrations", "Registered contact bindings")
OUTBOUND_CALLS = Counter(
    "sentiric_sip_outbound_calls_total", "Outbound calls by disposition", ["disposition"]
)
OUTBOUND_REFUSED = Counter(
    "sentiric_sip_outbound_refused_total",
    "Outbound calls refused before the INVITE (trunk limits)",
    ["reason"],
)
TRUNK_REGISTERED = Gauge(
    "sentiric_sip_trunk_registered", "Registered with the trunk (1) or not (0)", ["trunk"]
)
COMMANDS = Counter("sentiric_edge_commands_total", "Commands consumed by the edge", ["command", "outcome"])


def status_class(status: int) -> str:
    return f"{status // 100}xx"


LADDER_UNRECORDED = Counter(
    "sentiric_sip_ladder_unrecorded_total",
    "SIP messages of a call not recorded as SipMessageObserved: the call reached its per-call cap",
)
