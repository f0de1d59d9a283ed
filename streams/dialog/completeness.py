"""Does a caller's transcript read like a finished turn? A pure text rule, for the dialog reducer.

The edge ends an utterance after ``vad_end_silence_ms`` of silence, so a caller who pauses mid-sentence
("My order number is … four five six") arrives as two utterances. Answering the first would cut the
caller off. The reducer asks ``looks_unfinished(text)`` of every final transcript and, when it says
yes, holds the text and waits briefly for the caller's next utterance (joining the two) instead of
answering; a finished-looking transcript is answered at once, as before.

The rule is lexical and deliberately narrow, because a wrong "unfinished" costs the caller the
hold time (``turn_hold_s``) on top of the reply, while a wrong "finished" costs an interruption:

- a trailing ellipsis or dash (Whisper writes "My order number is..." for a voice that trails off);
- English only: the last word cannot end a sentence — a conjunction ("and", "because"), an article
  or possessive ("the", "my"), a subject pronoun or contraction that needs a verb ("I", "I'm"), a
  filler ("um", "uh"); a preposition ("to", "about"), unless a question with a wh-word strands it
  ("where are you from?"); or, unless a question mark ends the text, a copula after a noun ("my
  order number is", "the address was": a value must follow). A copula after a pronoun ("yes it is",
  "there is") or inside a wh-clause ("where the nearest shop is") ends sentences, so those are
  finished;
- a verb that takes two objects with only the person said ("can you tell me", "could you send us"):
  what to tell or send must follow, question mark or not (not "help me", "call me", "excuse me":
  they are finished).

Other languages get only the punctuation rules (their word lists are not written yet).
"""

from __future__ import annotations

import re
from typing import Final

TRAILING_MARKS: Final = ("...", "…", "-", "—", "–")
"""A transcript ending in one of these trails off."""

DANGLING: Final = frozenset(
    # conjunctions and subordinators: a clause must follow
    # (not "so" or "that": "I think so", "I'd like that" are finished)
    "and but nor because cause if than whenever whereas although unless whether"
    # articles, possessives, determiners that need a noun
    " a an the my your our their its every each another"
    # subject pronouns and contractions that need a verb
    " i i'm i've i'd i'll we're we've we'd you're they're"
    # fillers (not modals or "do"/"have": "yes I can", "yes we do" are finished answers)
    " um umm uh uhh er erm".split()
)
"""Last words (lower case) after which an English sentence cannot be over, question mark or not."""

PREPOSITIONS: Final = frozenset(
    # not "up", "out", "off", "in", "on", "over", "down", "back": they end phrasal verbs ("hold on")
    "to of for from with at by about into onto via per between through during without within toward"
    " towards upon across until".split()
)
"""Last words that leave a sentence unfinished ("I am calling about"), unless it is a question with a
wh-word before them ("Where are you from?")."""

COPULAS: Final = frozenset({"is", "are", "was", "were", "am", "be", "being", "been"})
"""A copula at the end is unfinished after a noun ("number is"), finished after these words:"""
COPULA_ENDS_AFTER: Final = frozenset(
    "it that this there here he she they we you who what which where how why yes no so".split()
)
TELLING_VERBS: Final = frozenset("tell show give send bring remind teach email text".split())
"""Verbs that, ending the text with only their person ("tell me", "send us"), still owe their thing."""
PERSONS: Final = frozenset({"me", "us"})
WH_WORDS: Final = frozenset("what where when who whom which how why whatever wherever".split())
"""A copula that closes a wh-clause ("tell me where the shop is") ends the sentence."""

_WORD: Final = re.compile(r"[a-z0-9']+")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def normalized(text: str) -> str:
    """The words of a transcript, lower case, one space between: what two transcripts of the same words
    share whatever Whisper's casing and punctuation ("Opening hours?" = "opening hours")."""
    return " ".join(_words(text))


def looks_unfinished(text: str, language: str = "en-US") -> bool:
    """True when ``text`` (a final transcript) reads like the start of a sentence the caller has not
    finished; False for a finished-looking one and for empty text."""
    stripped = text.strip()
    if not stripped:
        return False
    if stripped.endswith(TRAILING_MARKS):
        return True
    if not language.lower().startswith("en"):
        return False
    words = _words(stripped)
    if not words:
        return False
    last = words[-1]
    if last in DANGLING:
        return True
    if last in PERSONS and len(words) > 1 and words[-2] in TELLING_VERBS:
        return True  # "Can you tell me?": Whisper's question mark on a voice that paused before the what
    fronted = bool(WH_WORDS.intersection(words[:-1]))
    if last in PREPOSITIONS:
        # A question strands its preposition only after a fronted wh-word ("Where are you from?");
        # "Could you send it to?" is Whisper's question mark on a voice that paused.
        return not (stripped.endswith(("?", "!")) and fronted)
    if stripped.endswith(("?", "!")):
        return False
    if last in COPULAS:
        before = words[-2] if len(words) > 1 else ""
        if before in COPULA_ENDS_AFTER or fronted:
            return False
        return True
    return False


def join(held: str, text: str, language: str = "en-US") -> str:
    """The caller's turn from a held transcript and its continuation, one space between: the held
    part's trailing ellipsis or dash dropped, and its full stop or comma if it reads unfinished
    (Whisper's guess at a pause: "My order number is." + "456." → "My order number is 456.")."""
    head = held.rstrip()
    marks = (*TRAILING_MARKS, ".", ",") if looks_unfinished(head, language) else TRAILING_MARKS
    for mark in marks:
        if head.endswith(mark):
            head = head[: -len(mark)].rstrip()
            break
    tail = text.strip()
    if not head:
        return tail
    if not tail:
        return head
    return f"{head} {tail}"
