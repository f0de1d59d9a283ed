"""The dialog engine worker's streamed reply: the engine writes in a thread, the sentences it
finishes are published from the event loop while it writes on (`speech.reply_streamed`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from schemas import models as m
from streams.agents import speech
from streams.engines.dialog import StreamingDialogEngine, Turn


async def reply_streaming(
    fact: m.UtteranceTranscribed,
    engine: StreamingDialogEngine,
    history: Sequence[Turn],
    knowledge: Sequence[m.KnowledgeEntry],
    publish: Callable[[m.AgentReplied], Awaitable[None]],
    context: Mapping[str, Any] | None = None,
) -> m.AgentReplied:
    """Answer `fact`, awaiting `publish` for each piece (in order) as soon as the engine finished its
    sentence; returns the whole reply (not published: the caller publishes it, as for `speech.reply`).
    Raises what the engine raises before its first piece (`EngineError`)."""
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[m.AgentReplied | None] = asyncio.Queue()

    def hand_over(piece: m.AgentReplied | None) -> None:
        loop.call_soon_threadsafe(pieces.put_nowait, piece)

    def write() -> m.AgentReplied:
        try:
            return speech.reply_streamed(fact, engine, history, knowledge, hand_over, context=context)
        finally:
            hand_over(None)  # the end of the pieces, however the engine ended

    writing = asyncio.ensure_future(asyncio.to_thread(write))
    try:
        while (piece := await pieces.get()) is not None:
            await publish(piece)
    finally:
        if not writing.done():
            await asyncio.wait({writing})  # a failed publish: let the engine's thread finish first
    return await writing
