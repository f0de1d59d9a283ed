"""A re-run's differences for people: terminal lines, a JSON report, a self-contained HTML page."""

from __future__ import annotations

import dataclasses
import html
import json
from collections.abc import Sequence
from typing import Any

from streams.replay_diff import NO_RECORDING, CallDiff, Summary, TurnDiff, TurnResult, summarize


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def turn_lines(turn: TurnDiff) -> list[str]:
    """`  u1 changed: transcript (WER 25.0%) 'a' → 'b'; reply …` or `  u1 unchanged (stt 812 → 790 ms)`."""
    old, new = turn.recorded, turn.rerun
    if old is None:
        assert new is not None
        return [f"  {turn.utterance_id}: made by the re-run only: {new.transcript!r} → {new.reply!r}"]
    if new is None:
        return [f"  {turn.utterance_id}: recorded, the re-run has no such turn"]
    latency = f"stt {_ms(old.stt_ms)} → {_ms(new.stt_ms)}, dialog {_ms(old.dialog_ms)} → {_ms(new.dialog_ms)}"
    if not turn.changed:
        called = "".join(f" [{a.name} {a.outcome}]" for a in old.actions)
        return [f"  {turn.utterance_id} unchanged: {old.transcript!r} → {old.intent}{called} ({latency})"]
    lines = [f"  {turn.utterance_id} changed ({latency}):"]
    if turn.transcript_changed:
        lines.append(f"    transcript (WER {turn.wer or 0:.1%}): {old.transcript!r} → {new.transcript!r}")
    if turn.decision_changed:
        lines.append(
            f"    decision: {old.intent}{' (ends)' if old.end_conversation else ''}"
            f" → {new.intent}{' (ends)' if new.end_conversation else ''}"
        )
    if turn.reply_changed:
        lines.append(f"    reply: {old.reply!r} → {new.reply!r}")
    if turn.actions_changed:
        lines += action_lines(old, new)
    return lines


def action_lines(old: TurnResult, new: TurnResult) -> list[str]:
    """The turn's action calls side by side, recorded then re-run, one pair per call."""
    lines = []
    for i in range(max(len(old.actions), len(new.actions))):
        a = old.actions[i] if i < len(old.actions) else None
        b = new.actions[i] if i < len(new.actions) else None
        lines.append(f"    action {i + 1} recorded: {a if a else '(none)'}")
        rerun = f"{b}" if b else "(none)"
        if b is not None and b.outcome == "no recording":
            rerun += f" ({NO_RECORDING}; answered as a failure)"
        lines.append(f"    action {i + 1} re-run:   {rerun}")
    return lines


def call_lines(diff: CallDiff) -> list[str]:
    head = f"call {diff.call_id}: {len(diff.turns)} turns, {len(diff.changed)} changed"
    return [head, *(line for turn in diff.turns for line in turn_lines(turn))]


def _turn_json(turn: TurnResult | None) -> dict[str, Any] | None:
    return None if turn is None else dataclasses.asdict(turn)


def report_json(diffs: Sequence[CallDiff], engines: dict[str, str]) -> dict[str, Any]:
    s = summarize(diffs)
    summary = {
        "calls": s.calls,
        "calls_changed": s.calls_changed,
        "turns": s.turns,
        "turns_changed": s.changed,
        "transcripts_changed": s.transcript_changed,
        "decisions_changed": s.decision_changed,
        "replies_changed": s.reply_changed,
        "actions_changed": s.actions_changed,
        "unrecorded_actions": s.unrecorded_actions,
        "wer": s.wer,
        "word_errors": s.word_errors,
        "reference_words": s.reference_words,
    }
    calls = []
    for d in diffs:
        turns = []
        for t in d.turns:
            turns.append(
                {
                    "utterance_id": t.utterance_id,
                    "changed": t.changed,
                    "wer": t.wer,
                    "transcript_changed": t.transcript_changed,
                    "decision_changed": t.decision_changed,
                    "reply_changed": t.reply_changed,
                    "actions_changed": t.actions_changed,
                    "recorded": _turn_json(t.recorded),
                    "rerun": _turn_json(t.rerun),
                }
            )
        calls.append({"call_id": d.call_id, "turns": turns})
    return {"engines": engines, "summary": summary, "calls": calls}


_CSS = """body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}
tr.changed td{background:#fff4e5}.same{color:#777}h2{margin-top:1.5em}"""


def report_html(diffs: Sequence[CallDiff], engines: dict[str, str]) -> str:
    e = html.escape
    summary: Summary = summarize(diffs)
    out = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Sentiric replay rerun</title>",
        f"<style>{_CSS}</style></head><body><h1>Replay re-run</h1>",
        "<p>Engines: " + ", ".join(f"{e(k)} = {e(v)}" for k, v in engines.items()) + "</p>",
        f"<p><strong>{e(str(summary))}</strong></p>",
    ]
    for diff in diffs:
        out.append(f"<h2>Call {e(diff.call_id)}: {len(diff.changed)} of {len(diff.turns)} turns changed</h2>")
        out.append(
            "<table><tr><th>utterance</th><th>transcript (recorded / re-run)</th><th>WER</th>"
            "<th>decision</th><th>reply (recorded / re-run)</th><th>actions (recorded / re-run)</th>"
            "<th>latency STT, dialog</th></tr>"
        )
        for t in diff.turns:
            a, b = t.recorded, t.rerun

            def pair(get: Any, changed: bool, a: TurnResult | None = a, b: TurnResult | None = b) -> str:
                left = e(str(get(a))) if a else "—"
                right = e(str(get(b))) if b else "—"
                return f"{left}<br>→ {right}" if changed else f"<span class=same>{left}</span>"

            wer = "" if t.wer is None else f"{t.wer:.1%}"
            latency = pair(lambda x: f"{_ms(x.stt_ms)}, {_ms(x.dialog_ms)}", True)
            out.append(
                f"<tr class='{'changed' if t.changed else ''}'><td>{e(t.utterance_id)}</td>"
                f"<td>{pair(lambda x: x.transcript, t.transcript_changed)}</td><td>{wer}</td>"
                f"<td>{pair(lambda x: x.intent, t.decision_changed)}</td>"
                f"<td>{pair(lambda x: x.reply, t.reply_changed)}</td>"
                f"<td>{pair(lambda x: '; '.join(map(str, x.actions)) or '—', t.actions_changed)}</td>"
                f"<td>{latency}</td></tr>"
            )
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def write_report(path: str, diffs: Sequence[CallDiff], engines: dict[str, str]) -> None:
    """`.html` → the page, anything else → JSON."""
    if path.lower().endswith((".html", ".htm")):
        text = report_html(diffs, engines)
    else:
        text = json.dumps(report_json(diffs, engines), indent=2)
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)
