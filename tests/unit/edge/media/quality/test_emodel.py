"""ITU-T G.107 E-model with G.113 G.711 impairments."""

from __future__ import annotations

import pytest

from edge.media.quality.emodel import (
    G711_BPL_NO_PLC,
    G711_BPL_PLC,
    EModelInput,
    delay_impairment_idd,
    evaluate,
    ie_effective,
    mos_from_r,
    r_factor,
)


def test_default_connection_r_93_2_mos_4_41() -> None:
    # G.107 §7.7: with all parameters at their defaults, R = 93.2
    result = evaluate(EModelInput())
    assert result.r == pytest.approx(93.2, abs=0.05)
    assert result.ro == pytest.approx(94.77, abs=0.01)
    assert result.is_ == pytest.approx(1.41, abs=0.01)
    assert result.id == pytest.approx(0.15, abs=0.01)
    assert result.mos == pytest.approx(4.41, abs=0.005)


@pytest.mark.parametrize(
    ("r", "mos"),
    # G.107 Annex B, Table B.1 / the usual R→MOS correspondences
    [
        (100, 4.5),
        (93.2, 4.41),
        (90, 4.34),
        (80, 4.02),
        (70, 3.60),
        (60, 3.10),
        (50, 2.58),
        (0, 1.0),
        (-5, 1.0),
    ],
)
def test_mos_from_r(r: float, mos: float) -> None:
    assert mos_from_r(r) == pytest.approx(mos, abs=0.005)


def test_ie_eff_g711_with_and_without_plc() -> None:
    # G.113 Appendix I: G.711 Ie = 0, Bpl = 25.1 with PLC, 4.3 without; Ie,eff = 95·Ppl/(Ppl/BurstR + Bpl)
    assert ie_effective(0, 1, G711_BPL_PLC) == pytest.approx(95 / 26.1)  # 3.64
    assert ie_effective(0, 2, G711_BPL_PLC) == pytest.approx(7.01, abs=0.005)
    assert ie_effective(0, 2, G711_BPL_NO_PLC) == pytest.approx(30.16, abs=0.005)
    assert ie_effective(0, 2, G711_BPL_PLC, burst_r=2) == pytest.approx(190 / 26.1)
    assert ie_effective(0, 0, G711_BPL_PLC) == 0


def test_packet_loss_lowers_r_by_ie_eff() -> None:
    lossless = r_factor(0, 0).r
    assert lossless - r_factor(0, 2, plc=True).r == pytest.approx(ie_effective(0, 2, 25.1))
    assert lossless - r_factor(0, 2, plc=False).r == pytest.approx(ie_effective(0, 2, 4.3))
    assert r_factor(0, 2, plc=False).mos < r_factor(0, 2, plc=True).mos


def test_idd_absolute_delay() -> None:
    assert delay_impairment_idd(100) == 0
    # Ta = 200 ms: X = 1, Idd = 25((2)^(1/6) - 3(1 + 3^-6)^(1/6) + 2)
    assert delay_impairment_idd(200) == pytest.approx(25 * (2 ** (1 / 6) - 3 * (1 + 3**-6) ** (1 / 6) + 2))
    assert delay_impairment_idd(200) == pytest.approx(3.04, abs=0.01)
    assert delay_impairment_idd(400) == pytest.approx(
        25 * (65 ** (1 / 6) - 3 * (1 + (2 / 3) ** 6) ** (1 / 6) + 2)
    )
    assert delay_impairment_idd(400) == pytest.approx(24.07, abs=0.01)


def test_delay_degrades_r_monotonically() -> None:
    rs = [r_factor(d).r for d in (0, 50, 100, 150, 200, 300, 400)]
    assert rs == sorted(rs, reverse=True)
    assert r_factor(150).mos > 4.3  # 150 ms one-way: still "users satisfied" (G.114)
    assert r_factor(400).r < 70  # 400 ms: "many users dissatisfied" territory
