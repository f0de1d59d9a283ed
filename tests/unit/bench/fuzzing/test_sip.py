"""The campaign's SIP mutator: reproducible from (seed, index), loopback-only, every mutation class used."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from bench.fuzzing import sip

CORPUS = sip.load_corpus(Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "sip")


def test_the_corpus_is_both_sets_and_every_address_is_loopback() -> None:
    names = {s.name.split("/")[0] for s in CORPUS}
    assert names == {"rfc4475", "captured"} and len(CORPUS) >= 60
    for seed in CORPUS:
        text = b"\r\n".join([seed.start, *seed.headers, b"", seed.body])
        for match in sip._IPV4.finditer(text):
            assert match.group(0).startswith(b"127.") or match.group(0) == b"0.0.0.0", seed.name


def test_loopback_rewrites_foreign_addresses_and_keeps_lengths_honest() -> None:
    assert (
        sip.loopback(b"c=IN IP4 192.168.1.34\r\nVia: 10.0.0.5:5060")
        == b"c=IN IP4 127.0.0.1\r\nVia: 127.0.0.1:5060"
    )
    assert sip.loopback(b"127.0.0.2 0.0.0.0 1.2.3.4.5") == b"127.0.0.2 0.0.0.0 127.0.0.1.5"  # safe side
    zoiper = next(s for s in CORPUS if s.name == "captured/zoiper_invite.sip")
    length = next(h for h in zoiper.headers if h.lower().startswith(b"content-length"))
    assert int(length.partition(b":")[2]) == len(zoiper.body)


def test_a_message_is_a_pure_function_of_seed_and_index() -> None:
    a, b = sip.SipMutator(CORPUS, 7), sip.SipMutator(CORPUS, 7)
    for index in (0, 1, 999, 123_456):
        assert a.message(index) == b.message(index)
    assert sip.SipMutator(CORPUS, 8).message(5).data != a.message(5).data


def test_every_mutation_is_used_and_messages_fit_a_datagram() -> None:
    mutator = sip.SipMutator(CORPUS, 1)
    ops: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for index in range(5000):
        m = mutator.message(index)
        assert 0 < len(m.data) <= sip.UDP_MAX_PAYLOAD or m.data == b""
        ops.update(m.ops)
        kinds[m.kind] += 1
    used = {op.__name__[3:] for op, _ in (*sip.STRUCTURAL, *sip.BYTE_LEVEL)}
    assert set(ops) == used
    assert kinds["request"] > kinds["response"] > 0 and kinds["junk"] > 0


def test_fresh_identifiers_make_each_message_a_new_transaction() -> None:
    seed = next(s for s in CORPUS if s.name == "captured/sipp_uac_invite.sip")
    lines = [sip._identify(h, b"1.2a") for h in seed.headers]
    joined = b"\r\n".join(lines)
    assert b"Call-ID: fz1.2a@127.0.0.1" in joined and b"branch=z9hG4bK-fz1.2a" in joined
    assert b"tag=fz1.2a" in next(h for h in lines if h.startswith(b"From"))


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"INVITE sip:a@b SIP/2.0\r\n\r\n", "request"),
        (b"\r\nOPTIONS sip:a SIP/2.0\r\n", "request"),
        (b"SIP/2.0 200 OK\r\n\r\n", "response"),
        (b"\x00\x01garbage", "junk"),
        (b"INVITE sip:a@b\r\n", "junk"),
    ],
)
def test_kind_sorts_by_the_first_line(data: bytes, kind: str) -> None:
    assert sip.kind(data) == kind


def test_truncation_cuts_inside_the_message() -> None:
    seed = CORPUS[0]
    full = sip.Draft(seed.start, list(seed.headers), seed.body).flatten()
    for n in range(200):
        d = sip.Draft(seed.start, list(seed.headers), seed.body)
        sip.op_truncate(random.Random(n), d, CORPUS)
        assert full.startswith(d.flatten()) and len(d.flatten()) < len(full) + 1


def test_byte_level_mutations_survive_tiny_messages() -> None:
    for size in range(0, 40):
        for n in range(30):
            for op, _ in sip.BYTE_LEVEL:
                d = sip.Draft(b"", [], b"")
                d.raw = bytearray(b"x" * size)
                op(random.Random(n), d, CORPUS)
