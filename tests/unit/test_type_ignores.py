"""Every ``type: ignore`` in the shipped packages names its error code and says why, on its own line:
``# type: ignore[code]  # reason``. mypy (``make lint``) reports the unused ones; this keeps the rest
explained."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("schemas", "streams", "projections", "sentiric", "edge")
IGNORE = re.compile(r"#\s*type:\s*ignore(?P<rest>.*)$")
EXPLAINED = re.compile(r"\[[a-z-]+(?:, ?[a-z-]+)*\]  # \S")


def unexplained(line: str) -> bool:
    """Whether the line carries a ``type: ignore`` without an error code or without a reason."""
    found = IGNORE.search(line)
    return found is not None and EXPLAINED.match(found["rest"]) is None


def test_the_rule_tells_explained_from_bare_ignores() -> None:
    assert not unexplained("x = f()  # type: ignore[no-any-return]  # aiokafka is untyped")
    assert not unexplained("x = f()  # type: ignore[arg-type, union-attr]  # see above")
    assert not unexplained("x = f()  # an ordinary comment")
    assert unexplained("x = f()  # type: ignore")
    assert unexplained("x = f()  # type: ignore[arg-type]")
    assert unexplained("x = f()  # type: ignore  # no code")
    assert unexplained("x = f()  # type: ignore[arg-type] # one space before the reason")


def test_every_type_ignore_in_the_packages_has_a_code_and_a_reason() -> None:
    bare = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if unexplained(line)
    ]
    assert bare == []
