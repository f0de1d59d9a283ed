"""ITU-T G.107 E-model: transmission rating R and estimated MOS, with G.113 impairments for G.711.

R = Ro - Is - Id - Ie,eff + A (G.107 (06/2015) §7):

- Ro (basic signal-to-noise) and Is (simultaneous impairments: loudness, sidetone, quantisation) from
  the G.107 Table 3 defaults; together they give the default rating R = 93.2.
- Id (delay) = Idte (talker echo) + Idle (listener echo) + Idd (absolute delay Ta). With only a one-way
  delay known, ``r_factor`` takes T = Ta = delay and Tr = 2·delay, as G.107 does for echo-free
  connections with echo path equal to the one-way delay.
- Ie,eff = Ie + (95 - Ie) · Ppl / (Ppl / BurstR + Bpl), the packet-loss robust impairment (§7.4), with
  Ie = 0 for G.711 and Bpl = 4.3 without packet-loss concealment, 25.1 with it (G.113 Appendix I).
- MOS = 1 + 0.035 R + R (R - 60)(100 - R) · 7e-6 for 0 < R < 100 (G.107 Annex B).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

G711_IE = 0.0
G711_BPL_NO_PLC = 4.3
G711_BPL_PLC = 25.1


@dataclass(frozen=True, slots=True)
class EModelInput:
    """G.107 parameters; defaults are those of G.107 Table 3."""

    slr: float = 8.0  # send loudness rating, dB
    rlr: float = 2.0  # receive loudness rating, dB
    stmr: float = 15.0  # sidetone masking rating, dB
    lstr: float = 18.0  # listener sidetone rating, dB
    ds: float = 3.0  # D-value of telephone, send side
    dr: float = 3.0  # D-value of telephone, receive side
    telr: float = 65.0  # talker echo loudness rating, dB
    wepl: float = 110.0  # weighted echo path loss, dB
    t: float = 0.0  # mean one-way delay of the echo path, ms
    tr: float = 0.0  # round-trip delay in a 4-wire loop, ms
    ta: float = 0.0  # absolute delay in echo-free connections, ms
    qdu: float = 1.0  # number of quantisation distortion units
    ie: float = G711_IE  # equipment impairment factor
    bpl: float = G711_BPL_NO_PLC  # packet-loss robustness factor
    ppl: float = 0.0  # random packet-loss probability, %
    burst_r: float = 1.0  # burst ratio (1 = random loss)
    nc: float = -70.0  # circuit noise referred to 0 dBr point, dBm0p
    nfor: float = -64.0  # noise floor at the receive side, dBmp
    ps: float = 35.0  # room noise at the send side, dB(A)
    pr: float = 35.0  # room noise at the receive side, dB(A)
    a: float = 0.0  # advantage factor


@dataclass(frozen=True, slots=True)
class EModelResult:
    r: float
    ro: float
    is_: float
    id: float
    ie_eff: float
    mos: float


def _lg(x: float) -> float:
    return math.log10(x)


def ie_effective(ie: float, ppl: float, bpl: float, burst_r: float = 1.0) -> float:
    """G.107 §7.4: equipment impairment under packet loss ``ppl`` (%)."""
    return ie + (95.0 - ie) * ppl / (ppl / burst_r + bpl)


def delay_impairment_idd(ta: float) -> float:
    """G.107 Idd: impairment from the absolute one-way delay ``ta`` (ms); 0 up to 100 ms."""
    if ta <= 100.0:
        return 0.0
    x = _lg(ta / 100.0) / _lg(2.0)
    # float ** float is typed Any (a negative base gives a complex); both bases here are >= 1.
    idd: float = 25.0 * ((1 + x**6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2)
    return idd


def mos_from_r(r: float) -> float:
    """G.107 Annex B: estimated conversational MOS from the rating R."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6


def evaluate(p: EModelInput) -> EModelResult:
    # basic signal-to-noise ratio Ro (G.107 §7.2)
    olr = p.slr + p.rlr
    nfo = p.nfor + p.rlr
    pre = p.pr + 10 * _lg(1 + 10 ** ((10 - p.lstr) / 10))
    nor = p.rlr - 121 + pre + 0.008 * (pre - 35) ** 2
    nos = p.ps - p.slr - p.ds - 100 + 0.004 * (p.ps - olr - p.ds - 14) ** 2
    no = 10 * _lg(10 ** (p.nc / 10) + 10 ** (nos / 10) + 10 ** (nor / 10) + 10 ** (nfo / 10))
    ro = 15 - 1.5 * (p.slr + no)

    # simultaneous impairment Is = Iolr + Ist + Iq (§7.3)
    xolr = olr + 0.2 * (64 + no - p.rlr)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** (1 / 8) - xolr / 8)
    stmro = -10 * _lg(10 ** (-p.stmr / 10) + math.exp(-p.t / 4) * 10 ** (-p.telr / 10))
    ist = (
        12 * (1 + ((stmro - 13) / 6) ** 8) ** (1 / 8)
        - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
        - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13)
        + 29
    )
    q = 37 - 15 * _lg(p.qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q**2
    y = (ro - 100) / 15 + 46 / 8.4 - g / 9
    z = 46 / 30 - g / 40
    iq = 15 * _lg(1 + 10**y + 10**z)
    is_ = iolr + ist + iq

    # delay impairment Id = Idte + Idle + Idd (§7.4)
    terv = p.telr - 40 * _lg((1 + p.t / 10) / (1 + p.t / 150)) + 6 * math.exp(-0.3 * p.t**2)
    if p.stmr < 9:
        terv += ist / 2
    roe = -1.5 * (no - p.rlr)
    re = 80 + 2.5 * (terv - 14)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-p.t))
    if p.stmr > 20:
        idte_max = idte  # G.107: for STMR > 20 Idte is replaced by Idtes
        idte = math.sqrt(idte_max**2 + ist**2)
    rle = 10.5 * (p.wepl + 7) * (p.tr + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    id_ = idte + idle + delay_impairment_idd(p.ta)

    ie_eff = ie_effective(p.ie, p.ppl, p.bpl, p.burst_r)
    r = ro - is_ - id_ - ie_eff + p.a
    return EModelResult(r=r, ro=ro, is_=is_, id=id_, ie_eff=ie_eff, mos=mos_from_r(r))


def r_factor(
    one_way_delay_ms: float = 0.0,
    packet_loss_pct: float = 0.0,
    *,
    plc: bool = True,
    burst_ratio: float = 1.0,
) -> EModelResult:
    """R and MOS of a G.711 call from its measured one-way delay and packet loss (%)."""
    return evaluate(
        EModelInput(
            t=one_way_delay_ms,
            tr=2 * one_way_delay_ms,
            ta=one_way_delay_ms,
            ie=G711_IE,
            bpl=G711_BPL_PLC if plc else G711_BPL_NO_PLC,
            ppl=packet_loss_pct,
            burst_r=burst_ratio,
        )
    )
