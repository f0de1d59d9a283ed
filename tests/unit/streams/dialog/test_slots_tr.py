"""Turkish slot phrases: dates, times, names, evet/hayır — with dotted and dotless i, case and accents."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.dialog import slots_tr as tr

SUN = date(2026, 12, 6)  # a Sunday
HOUR_WORDS = (
    "", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz", "on", "on bir", "on iki",
    "on üç", "on dört", "on beş", "on altı", "on yedi", "on sekiz", "on dokuz", "yirmi", "yirmi bir",
    "yirmi iki", "yirmi üç",
)  # fmt: skip
GIVEN = ("Ayşe", "İlknur", "Işıl", "Ömer", "Çağla", "Şükrü", "Gülşen", "İsmail", "Ilgaz", "Doğan")
FAMILY = ("Yılmaz", "Işık", "Öztürk", "Çelik", "Şahin", "Ünal", "İnce", "Kılıç")


def upper_tr(text: str) -> str:
    """Upper case by Turkish rules: i → İ, ı → I."""
    return text.replace("i", "İ").replace("ı", "I").upper()


def ascii_tr(text: str) -> str:
    """As typed on a keyboard without Turkish letters."""
    return text.translate(str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosuCGIOSU"))


def locative(word: str) -> str:
    """The word with -da/-de/-ta/-te by vowel harmony and consonant assimilation ("üç" → "üçte")."""
    last_vowel = next(c for c in reversed(word) if c in "aeıioöuü")
    vowel = "a" if last_vowel in "aıou" else "e"
    return word + ("t" if word[-1] in "çfhkpsşt" else "d") + vowel


VARIANTS = st.sampled_from([str, upper_tr, ascii_tr, str.title, lambda t: upper_tr(ascii_tr(t))])


@pytest.mark.parametrize(
    ("text", "asked", "expected"),
    [
        ("yarın saat onda", False, "10:00"),
        ("pazartesi öğleden sonra üçte", False, "15:00"),
        ("15 Aralık saat 14:30", False, "14:30"),
        ("saat 10'da gelebilirim", False, "10:00"),
        ("saat 14.30'da", False, "14:30"),
        ("on birde", False, "11:00"),
        ("saat on otuzda", False, "10:30"),
        ("iki buçukta", False, "14:30"),
        ("onu çeyrek geçe", False, "10:15"),
        ("ona çeyrek kala", False, "09:45"),
        ("ona on kala", False, "09:50"),
        ("onu beş geçe", False, "10:05"),
        ("sabah dokuzda", False, "09:00"),
        ("akşam yedide", False, "19:00"),
        ("gece on ikide", False, "00:00"),
        ("öğlen", False, "12:00"),
        ("öğlen ikide", False, "14:00"),
        ("on", True, "10:00"),
        ("10", True, "10:00"),
        ("on", False, None),
        ("iki bisikletim var", False, None),
        ("15.12.2026", False, None),
        ("randevu almak istiyorum", False, None),
    ],
)
def test_parse_time(text: str, asked: bool, expected: str | None) -> None:
    assert tr.parse_time(text, asked=asked) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yarın saat onda", "2026-12-07"),
        ("YARIN", "2026-12-07"),
        ("bugün", "2026-12-06"),
        ("yarından sonra", "2026-12-08"),
        ("öbür gün", "2026-12-08"),
        ("pazartesi öğleden sonra üçte", "2026-12-07"),
        ("salıya", "2026-12-08"),
        ("cumartesi günü", "2026-12-12"),
        ("pazar", "2026-12-13"),  # today is Sunday: the next one
        ("15 Aralık saat 14:30", "2026-12-15"),
        ("on beş aralıkta", "2026-12-15"),
        ("15 Aralık 2027", "2027-12-15"),
        ("3 Ocak", "2027-01-03"),  # past this year: next year's
        ("15.12.2026", "2026-12-15"),
        ("15/12/2026", "2026-12-15"),
        ("2026-12-20", "2026-12-20"),
        ("31 Şubat", None),
        ("saat onda", None),
    ],
)
def test_parse_date(text: str, expected: str | None) -> None:
    assert tr.parse_date(text, SUN) == expected


@pytest.mark.parametrize(
    ("text", "asked", "expected"),
    [
        ("adım Ayşe Yılmaz", False, "Ayşe Yılmaz"),
        ("ADIM AYŞE YILMAZ", False, "Ayşe Yılmaz"),
        ("benim adım ilknur ışık", False, "İlknur Işık"),
        ("ismim Ömer", False, "Ömer"),
        ("yarın onda Ayşe Yılmaz adına", False, "Ayşe Yılmaz"),
        ("evet, İlknur Işık olsun", True, "İlknur Işık"),
        ("ben Şükrü Öztürk", True, "Şükrü Öztürk"),
        ("ayşe", True, "Ayşe"),
        ("yarın saat onda", False, None),
    ],
)
def test_parse_name(text: str, asked: bool, expected: str | None) -> None:
    assert tr.parse_name(text, asked=asked) == expected


@pytest.mark.parametrize(
    ("text", "yes", "no", "cancel"),
    [
        ("evet", True, False, False),
        ("Evet, doğru", True, False, False),
        ("tamam", True, False, False),
        ("TAMAM", True, False, False),
        ("olur", True, False, False),
        ("sorun yok", True, False, False),
        ("hayır", False, True, False),
        ("HAYIR", False, True, False),
        ("hayir", False, True, False),
        ("tamam değil", False, True, False),
        ("istemiyorum", False, True, False),
        ("İPTAL", False, True, True),
        ("IPTAL", False, True, True),
        ("vazgeçtim", False, True, True),
        ("boş ver", False, False, True),
        ("belki", False, False, False),
    ],
)
def test_yes_no_cancel(text: str, yes: bool, no: bool, cancel: bool) -> None:
    assert (tr.is_yes(text), tr.is_no(text), tr.is_cancel(text)) == (yes, no, cancel)


def test_spoken_dates_and_times() -> None:
    assert tr.spoken_date("2026-12-07", SUN) == "yarın, 7 Aralık Pazartesi"
    assert tr.spoken_date("2026-12-06", SUN) == "bugün, 6 Aralık Pazar"
    assert tr.spoken_date("2026-12-16", SUN) == "16 Aralık Çarşamba"
    assert tr.spoken_time("9:05") == "09:05"


def test_title_follows_turkish_rules() -> None:
    assert [tr.title(w) for w in ("ilknur", "ışık", "İSMAİL", "ILGAZ", "çağla")] == [
        "İlknur", "Işık", "İsmail", "Ilgaz", "Çağla",
    ]  # fmt: skip


@given(hour=st.integers(1, 23), variant=VARIANTS, saat=st.booleans())
def test_every_hour_in_words_with_its_suffix(hour: int, variant: object, saat: bool) -> None:
    words = HOUR_WORDS[hour].split()
    said = " ".join([*words[:-1], locative(words[-1])])
    text = variant(("saat " if saat else "") + said)  # type: ignore[operator]
    expected = hour + 12 if 1 <= hour <= 7 else hour  # business hours, as in English
    assert tr.parse_time(text) == f"{expected:02d}:00", text


@given(hour=st.integers(8, 23), minute=st.integers(0, 59), sep=st.sampled_from([":", "."]))
def test_clock_times_in_digits(hour: int, minute: int, sep: str) -> None:
    assert tr.parse_time(f"saat {hour}{sep}{minute:02d}'da") == f"{hour:02d}:{minute:02d}"


@given(ahead=st.integers(0, 364), variant=VARIANTS, year=st.booleans())
def test_day_and_month_names(ahead: int, variant: object, year: bool) -> None:
    d = SUN + timedelta(days=ahead)
    text = f"{d.day} {tr.MONTHS[d.month - 1]}" + (f" {d.year}" if year else "")
    assert tr.parse_date(variant(text), SUN) == d.isoformat(), text  # type: ignore[operator]


@given(today=st.dates(date(2020, 1, 1), date(2035, 1, 1)), day=st.integers(0, 6), variant=VARIANTS)
def test_weekdays_are_the_next_such_day(today: date, day: int, variant: object) -> None:
    found = tr.parse_date(variant(tr.WEEKDAYS[day]), today)  # type: ignore[operator]
    assert found is not None
    d = date.fromisoformat(found)
    assert d.weekday() == day and 1 <= (d - today).days <= 7


@given(
    names=st.lists(st.sampled_from(GIVEN), min_size=1, max_size=2),
    family=st.sampled_from(FAMILY),
    variant=st.sampled_from([str, upper_tr, lambda t: t.replace("İ", "i").replace("I", "ı").lower()]),
)
# (Python's own str.lower is not among the variants: it writes "Işık" as "işık", losing the dotless I.)
def test_names_come_back_capitalised_whatever_the_case(
    names: list[str], family: str, variant: object
) -> None:
    name = " ".join([*names, family])
    assert tr.parse_name(variant(f"adım {name}")) == name  # type: ignore[operator]
    assert tr.parse_name(variant(f"evet {name}"), asked=True) == name  # type: ignore[operator]


@given(
    st.lists(
        st.sampled_from("evet hayır tamam yok sorun olur değil lütfen iptal peki belki".split()), max_size=5
    )
)
def test_never_yes_and_no_at_once(said: list[str]) -> None:
    text = " ".join(said)
    assert not (tr.is_yes(text) and tr.is_no(text))
