"""RTP receiver statistics (RFC 3550 Appendix A.1, A.3, A.8) and round-trip time (§6.4.1).

- A.1 source validation and the extended highest sequence number: a source is valid after
  ``MIN_SEQUENTIAL`` in-order packets; jumps up to ``MAX_DROPOUT`` ahead count as loss, jumps back up to
  ``MAX_MISORDER`` are reordering/duplicates, anything else is a restart once two sequential packets
  confirm it.
- A.3 loss: expected = extended max - base + 1; cumulative lost = expected - received (signed 24 bits,
  duplicates can make it negative); fraction lost since the previous report, 8-bit fixed point.
- A.8 interarrival jitter: D = (R_j - R_i) - (S_j - S_i) in timestamp units, J += (|D| - J) / 16.
- RTT: A - LSR - DLSR, all middle-32-bit NTP (16.16 seconds), from a report block that reflects one of
  our sender reports.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.media.rtp.rtcp import ReportBlock, ntp_middle32, ntp_short_to_seconds, seconds_to_ntp_short

RTP_SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2


@dataclass(frozen=True, slots=True)
class ReceptionSnapshot:
    extended_highest_seq: int
    expected: int
    received: int
    cumulative_lost: int
    fraction_lost: float  # since the previous report, 0.0..1.0
    jitter: int  # timestamp units
    jitter_ms: float


class ReceiverStats:
    """Reception statistics for one incoming SSRC."""

    __slots__ = (
        "_last_sr_arrival",
        "_last_sr_middle",
        "_transit",
        "bad_seq",
        "base_seq",
        "clock_rate",
        "cycles",
        "expected_prior",
        "jitter",
        "max_seq",
        "probation",
        "received",
        "received_prior",
        "ssrc",
    )

    def __init__(self, ssrc: int, first_seq: int, *, clock_rate: int = 8000, probation: int = MIN_SEQUENTIAL):
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self._init_seq(first_seq)
        self.probation = probation
        if probation:  # A.1: on probation the first packet must be max_seq + 1
            self.max_seq = (first_seq - 1) % RTP_SEQ_MOD
        self.jitter = 0.0  # J, timestamp units (float; reported truncated)
        self._transit: int | None = None
        self._last_sr_middle = 0
        self._last_sr_arrival: float | None = None

    def _init_seq(self, seq: int) -> None:
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = RTP_SEQ_MOD + 1  # so seq == bad_seq is false
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def update_seq(self, seq: int) -> bool:
        """RFC 3550 A.1 ``update_seq``: account one packet; False if it is not (yet) valid."""
        udelta = (seq - self.max_seq) % RTP_SEQ_MOD
        if self.probation:
            if seq == (self.max_seq + 1) % RTP_SEQ_MOD:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:  # wrapped: another 64K cycle
                self.cycles += RTP_SEQ_MOD
            self.max_seq = seq
        elif udelta <= RTP_SEQ_MOD - MAX_MISORDER:
            if seq == self.bad_seq:  # two sequential packets after a big jump: the source restarted
                self._init_seq(seq)
            else:
                self.bad_seq = (seq + 1) % RTP_SEQ_MOD
                return False
        # else: duplicate or reordered packet
        self.received += 1
        return True

    def update_jitter(self, rtp_timestamp: int, arrival: float) -> None:
        """RFC 3550 A.8, with the arrival time (seconds) converted to timestamp units."""
        arrival_units = round(arrival * self.clock_rate)
        transit = (arrival_units - rtp_timestamp) % (1 << 32)
        if self._transit is not None:
            d = (transit - self._transit) % (1 << 32)
            if d >= 1 << 31:
                d = (1 << 32) - d  # |D| across 32-bit wraparound
            self.jitter += (d - self.jitter) / 16.0
        self._transit = transit

    def on_packet(self, seq: int, rtp_timestamp: int, arrival: float) -> bool:
        valid = self.update_seq(seq)
        if valid:
            self.update_jitter(rtp_timestamp, arrival)
        return valid

    @property
    def extended_highest_seq(self) -> int:
        return self.cycles + self.max_seq

    @property
    def expected(self) -> int:
        return self.extended_highest_seq - self.base_seq + 1

    @property
    def cumulative_lost(self) -> int:
        return max(-0x800000, min(0x7FFFFF, self.expected - self.received))

    @property
    def jitter_ms(self) -> float:
        return 1000.0 * int(self.jitter) / self.clock_rate

    def _interval_fraction(self) -> int:
        """A.3: fraction lost since the previous call, 8-bit fixed point; advances the interval."""
        expected = self.expected
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            return 0
        return (lost_interval << 8) // expected_interval

    def on_sender_report(self, ntp_timestamp: int, arrival: float) -> None:
        """Remember the peer's last SR (its NTP time and when it arrived) for LSR/DLSR."""
        self._last_sr_middle = ntp_middle32(ntp_timestamp)
        self._last_sr_arrival = arrival

    def report_block(self, now: float) -> ReportBlock:
        """The report block for our next SR/RR; starts a new loss interval."""
        fraction = self._interval_fraction()
        dlsr = 0
        if self._last_sr_arrival is not None:
            dlsr = seconds_to_ntp_short(max(0.0, now - self._last_sr_arrival))
        return ReportBlock(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=self.cumulative_lost,
            highest_sequence=self.extended_highest_seq % (1 << 32),
            jitter=int(self.jitter),
            lsr=self._last_sr_middle,
            dlsr=dlsr,
        )

    def snapshot(self) -> ReceptionSnapshot:
        """Current figures without starting a new report interval (fraction is over the whole call)."""
        expected = self.expected
        lost = self.cumulative_lost
        return ReceptionSnapshot(
            extended_highest_seq=self.extended_highest_seq,
            expected=expected,
            received=self.received,
            cumulative_lost=lost,
            fraction_lost=max(0.0, lost / expected) if expected > 0 else 0.0,
            jitter=int(self.jitter),
            jitter_ms=self.jitter_ms,
        )


def round_trip_time(block: ReportBlock, arrival_ntp: int) -> float | None:
    """RTT in seconds from a report block reflecting our SR, received at NTP time ``arrival_ntp``.

    RFC 3550 §6.4.1: RTT = A - LSR - DLSR (16.16 arithmetic, modulo 2^32). None when the peer has not
    received an SR from us yet (LSR = 0).
    """
    if block.lsr == 0:
        return None
    rtt = (ntp_middle32(arrival_ntp) - block.lsr - block.dlsr) % (1 << 32)
    if rtt >= 1 << 31:
        return 0.0  # clock skew or a bogus block: never report a negative delay
    return ntp_short_to_seconds(rtt)
