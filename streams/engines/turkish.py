"""Turkish text analysis for knowledge search: the words of "ÇALIŞMA SAATLERİNİZ", "çalışma
saatleriniz nedir" and "calisma saatleriniz" come out as the same terms.

1. Case folding by Turkish rules: İ → i and I → ı (Python's `lower()` gives "i̇" for İ, and i for I).
2. Accent folding: ç → c, ş → s, ğ → g, ö → o, ü → u, ı → i (and the circumflex vowels), so text typed
   on a keyboard without Turkish letters, or a transcript that lost them, matches.
3. Light stemming: common inflectional suffixes (plural, possessive, case, question and person
   endings, -iyor, -ma) are stripped, longest first, while at least `MIN_STEM` letters remain.
   Snowball's Turkish stemmer was tried first and dropped: it stems the accented and the folded
   spelling of one word differently ("dükkanınız" → "dükka", "dukkaniniz" → "dukkan") and leaves
   "çalışma" whole; suffixes stripped after folding treat both spellings alike by construction.

Then stop words go and a few paraphrases fold onto one concept word, as in the English analysis.
"""

from __future__ import annotations

import re
from typing import Final

MIN_STEM: Final = 4
_WORD = re.compile(r"[^\W\d_]+")
_CASE = str.maketrans({"İ": "i", "I": "ı"})
_ACCENTS = str.maketrans("çşğöüıâîû", "csgouiaiu")

# Folded spellings; vowel-harmony variants (ı/i, u/ü) coincide after folding.
SUFFIXES: Final = tuple(
    sorted(
        """misiniz musunuz sunuz siniz iniz unuz imiz umuz niz nuz miz muz lari leri lar ler
        iyor uyor yor dan den tan ten nin nun da de ta te yi yu ya ye mak mek ma me im in um un
        si su i u a e""".split(),
        key=len,
        reverse=True,
    )
)

STOP_WORDS: Final = frozenset(
    """ne nedir neler mi mu misiniz musunuz miyim muyum bir ve ile icin acaba lutfen merhaba selam
    iyi gunler da de ki ben biz siz sizin bana size sizi var yok bu su o ama peki evet hayir tamam
    ogrenmek istiyorum istiyordum soyler nasil""".split()
)

# Paraphrases folded onto one concept word (applied to stems).
SYNONYMS: Final[dict[str, str]] = {
    # Some stems are cut short where a suffix's letters end the root ("adresiniz" → "adre" by -siniz):
    # both spellings of the word are cut alike, and the short stem joins its concept here.
    **dict.fromkeys(["calis", "mesai", "mesa"], "calis"),
    **dict.fromkeys(["acik", "acil", "acilis", "kapan", "kapali", "kapat"], "acik"),
    **dict.fromkeys(["adres", "adre", "nere", "nered", "konum", "yer", "ulas", "tarif"], "adres"),
    **dict.fromkeys(["fiyat", "ucret", "para", "tutar", "kadar"], "fiyat"),
    **dict.fromkeys(["randev", "rezervasyon"], "randev"),
    **dict.fromkeys(["hosca", "hosc", "gule", "gorusuruz", "hoscakal"], "bye"),
}


def fold(text: str) -> str:
    """Turkish case folding, then the accents off: "ÇALIŞMA SAATLERİNİZ" → "calisma saatleriniz"."""
    return text.translate(_CASE).lower().translate(_ACCENTS)


def stem(word: str) -> str:
    """`word` (folded) without its inflectional suffixes: "saatleriniz" → "saat"."""
    changed = True
    while changed:
        changed = False
        for suffix in SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= MIN_STEM:
                word = word[: -len(suffix)]
                changed = True
                break
    return word


def analyze(text: str) -> list[str]:
    """The search terms of a Turkish text."""
    words = [w for w in _WORD.findall(fold(text)) if w not in STOP_WORDS]
    return [SYNONYMS.get(s, s) for s in map(stem, words)]
