"""Wire text made safe: any str in → valid UTF-8 without NUL, controls or surrogates out, bounded,
a fixed point; clean text untouched."""

from __future__ import annotations

from urllib.parse import unquote

from hypothesis import given
from hypothesis import strategies as st

from schemas import models
from schemas.codec import decode, encode
from schemas.envelope import envelope
from schemas.wiretext import DEFAULT_BOUND, FIELD_BOUNDS, TRUNCATED, safe_field, safe_text

# Every code point, surrogates included (Hypothesis leaves category Cs out unless told), with the
# troublesome ones drawn often.
ANY_CHAR = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(categories=["Cs", "Cc"]),
    st.sampled_from(["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f", "\r", "\n", "\t", "\ud800", "\udcff"]),
)
ANY_TEXT = st.text(ANY_CHAR, max_size=300)
BOUNDS = st.integers(min_value=0, max_value=400)


def is_unsafe(ch: str, multiline: bool) -> bool:
    code = ord(ch)
    if ch == "\t" or (multiline and ch in "\r\n"):
        return False
    return code < 0x20 or 0x7F <= code <= 0x9F or 0xD800 <= code <= 0xDFFF


@given(ANY_TEXT, BOUNDS, st.booleans())
def test_any_text_becomes_storable_bounded_and_stable(value: str, bound: int, multiline: bool) -> None:
    out = safe_text(value, bound, multiline=multiline)
    out.encode("utf-8")  # no surrogate left: raises otherwise
    assert "\x00" not in out
    assert not any(is_unsafe(ch, multiline) for ch in out)
    assert len(out) <= bound
    assert safe_text(out, bound, multiline=multiline) == out


@given(st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=200))
def test_clean_text_within_its_bound_is_untouched(value: str) -> None:
    assert safe_text(value, 200) == value
    assert safe_text(value, 200, multiline=True) == value


def test_escapes_are_visible_and_name_the_octet() -> None:
    assert safe_text("a\x00b") == "a\\x00b"
    assert safe_text("bell\x07 esc\x1b del\x7f nel\x85") == "bell\\x07 esc\\x1b del\\x7f nel\\x85"
    # an undecodable octet, as the SIP parser keeps it (surrogateescape), is shown by its value
    assert safe_text(b"caf\xe9 \xff".decode("utf-8", "surrogateescape")) == "caf\\xe9 \\xff"
    assert safe_text("lone \ud800 high") == "lone \ufffd high"
    assert safe_text("tab\tkept") == "tab\tkept"


def test_percent_encoded_nul_from_a_uri_is_escaped() -> None:
    caller = unquote("%00evil%FF", errors="surrogateescape")  # what the SIP URI parser gives
    assert safe_field("caller", caller) == "\\x00evil\\xff"


def test_line_fields_escape_line_breaks_multiline_fields_keep_them() -> None:
    assert safe_field("user_agent", "a\r\nInjected: 1") == "a\\x0d\\x0aInjected: 1"
    sdp = "v=0\r\ns=\x00x\r\n"
    assert safe_field("sdp_offer", sdp) == "v=0\r\ns=\\x00x\r\n"
    assert safe_field("text", "line one\nline two") == "line one\nline two"


def test_long_values_are_cut_with_a_visible_marker() -> None:
    out = safe_field("caller", "9" * 10_000)
    assert len(out) == FIELD_BOUNDS["caller"] and out.endswith(TRUNCATED)
    assert len(safe_field("no_such_field", "x" * 5000)) == DEFAULT_BOUND
    sdp = "a=x\r\n" * 10_000
    assert len(safe_field("sdp_offer", sdp)) == FIELD_BOUNDS["sdp_offer"]
    # escapes grow the text; the bound holds after escaping
    assert len(safe_field("caller", "\x00" * 100)) == FIELD_BOUNDS["caller"]


def test_a_fact_of_hostile_text_made_safe_encodes_and_decodes() -> None:
    hostile = "\x00\udcff\ud800\x07" + "x" * 3000
    fields = {
        name: safe_field(name, hostile)
        for name in ("sip_call_id", "from_uri", "to_uri", "caller", "callee", "remote_addr", "user_agent")
    }
    record = models.CallInviteReceived(
        **envelope("c1", seq=1, source="edge-1"),
        transport="udp",
        sdp_offer=safe_field("sdp_offer", hostile),
        **fields,
    )
    back = decode(encode(record))
    assert back.caller.startswith("\\x00\\xff\ufffd\\x07") and len(back.caller) == FIELD_BOUNDS["caller"]
