"""Builds the configured engines from settings (`stt_engine`, `dialog_engine`, `tts_engine`, `llm_*`,
and `*_remote_url` for the `remote` engines)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentiric.settings import Settings
from streams.engines.dialog import DialogEngine
from streams.engines.errors import EngineError
from streams.engines.stt import SpeechToText
from streams.engines.tts import TextToSpeech


@dataclass(frozen=True, slots=True)
class Engines:
    stt: SpeechToText
    dialog: DialogEngine
    tts: TextToSpeech


def _remote_options(settings: Settings, kind: str) -> tuple[str, dict[str, Any]]:
    url = getattr(settings, f"{kind}_remote_url")
    if not url:
        raise EngineError(f"{kind}_engine remote needs {kind}_remote_url (host:port)")
    return url, {"timeout_s": settings.speech_remote_timeout_s, "tls_ca": settings.speech_remote_tls_ca}


def build_stt(settings: Settings) -> SpeechToText:
    if settings.stt_engine == "remote":
        from streams.engines.remote import RemoteSTT

        url, options = _remote_options(settings, "stt")
        return RemoteSTT(url, **options)
    if settings.stt_engine == "whisper":
        from streams.engines.whisper import WhisperSTT

        return WhisperSTT(settings.cache_dir)
    if settings.stt_engine == "pocketsphinx":
        from streams.engines.knowledge import SAMPLE_PATH, load_knowledge
        from streams.engines.pocketsphinx_grammar import PocketsphinxGrammarSTT

        entries = load_knowledge(settings.knowledge_file or SAMPLE_PATH)
        return PocketsphinxGrammarSTT(p for e in entries for p in e.phrasings)
    raise EngineError(f"unknown stt_engine {settings.stt_engine!r} (known: whisper, pocketsphinx, remote)")


def build_dialog(settings: Settings) -> DialogEngine:
    if settings.dialog_engine == "remote":
        from streams.engines.remote import RemoteDialog

        url, options = _remote_options(settings, "dialog")
        return RemoteDialog(url, language=settings.language, **options)
    if settings.dialog_engine == "openai" or (settings.dialog_engine != "knowledge" and settings.llm_url):
        from streams.engines.openai_tools import OpenAIToolsEngine  # the chat engine, actions as tools

        if not settings.llm_url or not settings.llm_model:
            raise EngineError("dialog_engine openai needs llm_url and llm_model")
        key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
        return OpenAIToolsEngine(settings.llm_url, settings.llm_model, key)
    if settings.dialog_engine == "knowledge":
        from streams.engines.knowledge import KnowledgeEngine

        return KnowledgeEngine(language=settings.language, stream=settings.stream_knowledge_replies)
    raise EngineError(f"unknown dialog_engine {settings.dialog_engine!r} (known: knowledge, openai, remote)")


def build_tts(settings: Settings) -> TextToSpeech:
    if settings.tts_engine == "remote":
        from streams.engines.remote import RemoteTTS

        url, options = _remote_options(settings, "tts")
        return RemoteTTS(url, **options)
    from streams.engines.espeak import EspeakTTS

    engine: TextToSpeech
    if settings.tts_engine == "espeak":
        engine = EspeakTTS()
    elif settings.tts_engine == "hibari":
        from streams.engines.hibari import HibariTTS
        from streams.engines.voices import ByLanguage

        engine = ByLanguage(natural=HibariTTS(settings.tts_voice), fallback=EspeakTTS())
    else:
        raise EngineError(f"unknown tts_engine {settings.tts_engine!r} (known: hibari, espeak, remote)")
    if settings.tts_cache_mb <= 0:
        return engine
    from streams.engines.speech_cache import SpeechCache

    return SpeechCache(engine, int(settings.tts_cache_mb * 1024 * 1024))


def build_engines(settings: Settings) -> Engines:
    return Engines(stt=build_stt(settings), dialog=build_dialog(settings), tts=build_tts(settings))
