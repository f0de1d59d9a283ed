"""The facts the edge records about a call: one typed function per fact model.

Each function is named after its model (``CallEnded`` → :func:`call_ended`), takes the call id and
the model's own fields by name with their types and defaults, and returns the model, built.  A
misspelt or mistyped field is a type error where the fact is made, not a failure at run time.

What a function returns is *unstamped*: its envelope (``event_id``, ``seq``, ``occurred_at``,
``source``, ``trace_id``) holds placeholders.  The SIP core, the media sessions and the WebSocket
sessions hand these facts out (``edge.effects.Emit``, or a recorder call); the one
:class:`~edge.facts.FactRecorder` makes the wire text in them safe, stamps the envelope and publishes.
A fact is therefore never on the log unstamped, and its envelope is written in one place.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from schemas import models as m

UNSTAMPED_ID = UUID(int=0)
UNSTAMPED_AT = datetime(1970, 1, 1, tzinfo=UTC)


def _unstamped(call_id: str) -> dict[str, Any]:
    """The placeholder envelope of a fact the recorder has not stamped yet."""
    return {
        "event_id": UNSTAMPED_ID,
        "call_id": call_id,
        "seq": 0,
        "occurred_at": UNSTAMPED_AT,
        "source": "",
        "trace_id": call_id,
    }


def call_invite_received(
    call_id: str,
    *,
    sip_call_id: str,
    from_uri: str,
    to_uri: str,
    caller: str,
    callee: str,
    remote_addr: str,
    transport: str,
    channel: str = "sip",
    sdp_offer: str | None = None,
    user_agent: str | None = None,
    raw_invite: bytes | None = None,
    direction: str = "inbound",
    parent_call_id: str | None = None,
) -> m.CallInviteReceived:
    """An INVITE for a new call reached the edge."""
    return m.CallInviteReceived(
        **_unstamped(call_id),
        sip_call_id=sip_call_id,
        from_uri=from_uri,
        to_uri=to_uri,
        caller=caller,
        callee=callee,
        remote_addr=remote_addr,
        transport=transport,
        channel=channel,
        sdp_offer=sdp_offer,
        user_agent=user_agent,
        raw_invite=raw_invite,
        direction=direction,
        parent_call_id=parent_call_id,
    )


def dialplan_resolved(
    call_id: str,
    *,
    dialplan_id: str,
    action: str,
    target: str | None = None,
    prompt_uri: str | None = None,
    language: str = "en-US",
    caller: str | None = None,
    caller_matched_by: str = "none",
    caller_contact_id: str | None = None,
    caller_name: str | None = None,
    caller_language: str | None = None,
    caller_profile: str = "{}",
    caller_claimed_name: str | None = None,
    knowledge: tuple[str, ...] = (),
) -> m.DialplanResolved:
    """The local dialplan decided what to do with the call; ``caller`` (the From user part) was looked
    up (``edge.uas.callerid.caller_fields``). ``caller_claimed_name``, the From display name, is wire
    text: recorded (the recorder makes it safe), never taken as the name."""
    return m.DialplanResolved(
        **_unstamped(call_id),
        dialplan_id=dialplan_id,
        action=action,
        target=target,
        prompt_uri=prompt_uri,
        language=language,
        caller=caller,
        caller_matched_by=caller_matched_by,
        caller_contact_id=caller_contact_id,
        caller_name=caller_name,
        caller_language=caller_language,
        caller_profile=caller_profile,
        caller_claimed_name=caller_claimed_name,
        knowledge=knowledge,
    )


def media_port_allocated(
    call_id: str,
    *,
    rtp_port: int,
    local_address: str,
) -> m.MediaPortAllocated:
    """An RTP/RTCP port pair was reserved for the call."""
    return m.MediaPortAllocated(
        **_unstamped(call_id),
        rtp_port=rtp_port,
        local_address=local_address,
    )


def call_answered(
    call_id: str,
    *,
    codec: str,
    payload_type: int,
    clock_rate: int = 8000,
    ptime_ms: int = 20,
    srtp: bool = False,
    remote_rtp_addr: str | None = None,
    sdp_answer: str,
) -> m.CallAnswered:
    """200 OK with the SDP answer (or late offer) was sent."""
    return m.CallAnswered(
        **_unstamped(call_id),
        codec=codec,
        payload_type=payload_type,
        clock_rate=clock_rate,
        ptime_ms=ptime_ms,
        srtp=srtp,
        remote_rtp_addr=remote_rtp_addr,
        sdp_answer=sdp_answer,
    )


def call_degraded(
    call_id: str,
    *,
    reason: str,
    action: str,
    waited_ms: float = 0.0,
) -> m.CallDegraded:
    """The edge served an answered call itself: the AI side could not."""
    return m.CallDegraded(
        **_unstamped(call_id),
        reason=reason,
        action=action,
        waited_ms=waited_ms,
    )


def call_established(
    call_id: str,
    *,
    ack_delay_ms: float = 0.0,
) -> m.CallEstablished:
    """The ACK for the 200 OK arrived; media flows."""
    return m.CallEstablished(
        **_unstamped(call_id),
        ack_delay_ms=ack_delay_ms,
    )


def call_cancelled(
    call_id: str,
    *,
    reason: str = "caller_cancel",
) -> m.CallCancelled:
    """The caller cancelled before the call was answered."""
    return m.CallCancelled(
        **_unstamped(call_id),
        reason=reason,
    )


def call_rejected(
    call_id: str,
    *,
    sip_status: int,
    reason: str,
    stage: str,
) -> m.CallRejected:
    """Call setup failed or was refused; the SIP final response sent."""
    return m.CallRejected(
        **_unstamped(call_id),
        sip_status=sip_status,
        reason=reason,
        stage=stage,
    )


def call_ended(
    call_id: str,
    *,
    reason: str,
    hangup_by: str,
    sip_status: int,
    setup_ms: float | None = None,
    talk_ms: int = 0,
    total_ms: int,
    disposition: str | None = None,
    early_media: bool = False,
) -> m.CallEnded:
    """The call is over; the last call fact but MediaPortReleased."""
    return m.CallEnded(
        **_unstamped(call_id),
        reason=reason,
        hangup_by=hangup_by,
        sip_status=sip_status,
        setup_ms=setup_ms,
        talk_ms=talk_ms,
        total_ms=total_ms,
        disposition=disposition,
        early_media=early_media,
    )


def media_port_released(
    call_id: str,
    *,
    rtp_port: int,
) -> m.MediaPortReleased:
    """The call's RTP port went back to the pool (into quarantine)."""
    return m.MediaPortReleased(
        **_unstamped(call_id),
        rtp_port=rtp_port,
    )


def call_transferred(
    call_id: str,
    *,
    target_uri: str,
    status: str,
    sip_status: int | None = None,
    leg_call_id: str | None = None,
) -> m.CallTransferred:
    """A transfer progressed: a blind one (REFER) or the edge's bridge (``leg_call_id``: its call)."""
    return m.CallTransferred(
        **_unstamped(call_id),
        target_uri=target_uri,
        status=status,
        sip_status=sip_status,
        leg_call_id=leg_call_id,
    )


def dtmf_received(
    call_id: str,
    *,
    digit: str,
    duration_ms: int,
    method: str,
) -> m.DtmfReceived:
    """A DTMF digit from the caller."""
    return m.DtmfReceived(
        **_unstamped(call_id),
        digit=digit,
        duration_ms=duration_ms,
        method=method,
    )


def call_media_updated(
    call_id: str,
    *,
    direction: str,
    remote_rtp_addr: str | None = None,
    codec: str,
) -> m.CallMediaUpdated:
    """A re-INVITE changed the media (hold, unhold, new address or codec)."""
    return m.CallMediaUpdated(
        **_unstamped(call_id),
        direction=direction,
        remote_rtp_addr=remote_rtp_addr,
        codec=codec,
    )


def speech_started(
    call_id: str,
    *,
    utterance_id: str,
    stream_ms: int,
) -> m.SpeechStarted:
    """The VAD heard the caller start speaking (barge-in signal)."""
    return m.SpeechStarted(
        **_unstamped(call_id),
        utterance_id=utterance_id,
        stream_ms=stream_ms,
    )


def playback_started(
    call_id: str,
    *,
    playback_id: str,
    source_uri: str | None = None,
    duration_ms: int,
) -> m.PlaybackStarted:
    """The edge started sending a prompt or synthesized reply."""
    return m.PlaybackStarted(
        **_unstamped(call_id),
        playback_id=playback_id,
        source_uri=source_uri,
        duration_ms=duration_ms,
    )


def playback_finished(
    call_id: str,
    *,
    playback_id: str,
    interrupted: bool,
    played_ms: int,
    duration_ms: int,
    reason: str = "completed",
) -> m.PlaybackFinished:
    """Playback stopped: completed, interrupted by barge-in, or stopped by command."""
    return m.PlaybackFinished(
        **_unstamped(call_id),
        playback_id=playback_id,
        interrupted=interrupted,
        played_ms=played_ms,
        duration_ms=duration_ms,
        reason=reason,
    )


def utterance_captured(
    call_id: str,
    *,
    utterance_id: str,
    sample_rate: int,
    pcm: bytes,
    start_ms: int,
    end_ms: int,
    end_reason: str = "silence",
    text: str | None = None,
) -> m.UtteranceCaptured:
    """A VAD-endpointed caller utterance, PCM in the event."""
    return m.UtteranceCaptured(
        **_unstamped(call_id),
        utterance_id=utterance_id,
        sample_rate=sample_rate,
        pcm=pcm,
        start_ms=start_ms,
        end_ms=end_ms,
        end_reason=end_reason,
        text=text,
    )


def utterance_chunk_captured(
    call_id: str,
    *,
    utterance_id: str,
    index: int,
    sample_rate: int,
    pcm: bytes,
    start_ms: int,
    end_ms: int,
    pause: bool = False,
) -> m.UtteranceChunkCaptured:
    """The audio of an utterance in progress since its previous chunk, for partial transcripts;
    ``pause``: the chunk ends where the caller paused."""
    return m.UtteranceChunkCaptured(
        **_unstamped(call_id),
        utterance_id=utterance_id,
        index=index,
        sample_rate=sample_rate,
        pcm=pcm,
        start_ms=start_ms,
        end_ms=end_ms,
        pause=pause,
    )


def media_quality_reported(
    call_id: str,
    *,
    final: bool,
    packets_received: int,
    packets_lost: int,
    loss_fraction: float,
    jitter_ms: float,
    rtt_ms: float | None = None,
    r_factor: float,
    mos: float,
) -> m.MediaQualityReported:
    """RTCP-derived quality, periodic and at call end."""
    return m.MediaQualityReported(
        **_unstamped(call_id),
        final=final,
        packets_received=packets_received,
        packets_lost=packets_lost,
        loss_fraction=loss_fraction,
        jitter_ms=jitter_ms,
        rtt_ms=rtt_ms,
        r_factor=r_factor,
        mos=mos,
    )


def recording_finished(
    call_id: str,
    *,
    recording_id: str,
    uri: str,
    format: str,
    size_bytes: int,
    duration_ms: int,
) -> m.RecordingFinished:
    """A recording was written and uploaded."""
    return m.RecordingFinished(
        **_unstamped(call_id),
        recording_id=recording_id,
        uri=uri,
        format=format,
        size_bytes=size_bytes,
        duration_ms=duration_ms,
    )


def speech_synthesized(
    call_id: str,
    *,
    reply_id: str,
    text: str,
    sample_rate: int,
    pcm: bytes,
    engine: str,
    latency_ms: float,
    part: int = 0,
    last: bool = True,
) -> m.SpeechSynthesized:
    """The edge synthesized a prompt itself (an announcement, an operator's words): one whole piece."""
    return m.SpeechSynthesized(
        **_unstamped(call_id),
        reply_id=reply_id,
        text=text,
        sample_rate=sample_rate,
        pcm=pcm,
        engine=engine,
        latency_ms=latency_ms,
        part=part,
        last=last,
    )


def sip_message_observed(
    call_id: str,
    *,
    direction: str,
    transport: str,
    local_addr: str,
    remote_addr: str,
    first_line: str,
    raw: bytes,
    size: int,
    truncated: bool = False,
) -> m.SipMessageObserved:
    """One SIP message of the call, received (``in``) or sent (``out``): a rung of its ladder."""
    return m.SipMessageObserved(
        **_unstamped(call_id),
        direction=direction,
        transport=transport,
        local_addr=local_addr,
        remote_addr=remote_addr,
        first_line=first_line,
        raw=raw,
        size=size,
        truncated=truncated,
    )
