from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RecognitionConfig(_message.Message):
    __slots__ = ("sample_rate", "language", "interim_results")
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    INTERIM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    sample_rate: int
    language: str
    interim_results: bool
    def __init__(self, sample_rate: _Optional[int] = ..., language: _Optional[str] = ..., interim_results: _Optional[bool] = ...) -> None: ...

class RecognizeRequest(_message.Message):
    __slots__ = ("config", "audio")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    config: RecognitionConfig
    audio: bytes
    def __init__(self, config: _Optional[_Union[RecognitionConfig, _Mapping]] = ..., audio: _Optional[bytes] = ...) -> None: ...

class RecognizeResponse(_message.Message):
    __slots__ = ("text", "is_final", "confidence", "language", "engine", "audio_ms")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    AUDIO_MS_FIELD_NUMBER: _ClassVar[int]
    text: str
    is_final: bool
    confidence: float
    language: str
    engine: str
    audio_ms: int
    def __init__(self, text: _Optional[str] = ..., is_final: _Optional[bool] = ..., confidence: _Optional[float] = ..., language: _Optional[str] = ..., engine: _Optional[str] = ..., audio_ms: _Optional[int] = ...) -> None: ...

class SynthesizeRequest(_message.Message):
    __slots__ = ("text", "language", "voice", "sample_rate")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    VOICE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    text: str
    language: str
    voice: str
    sample_rate: int
    def __init__(self, text: _Optional[str] = ..., language: _Optional[str] = ..., voice: _Optional[str] = ..., sample_rate: _Optional[int] = ...) -> None: ...

class SynthesizeResponse(_message.Message):
    __slots__ = ("pcm", "sample_rate", "engine")
    PCM_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    pcm: bytes
    sample_rate: int
    engine: str
    def __init__(self, pcm: _Optional[bytes] = ..., sample_rate: _Optional[int] = ..., engine: _Optional[str] = ...) -> None: ...

class Turn(_message.Message):
    __slots__ = ("role", "text")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    role: str
    text: str
    def __init__(self, role: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class KnowledgeEntry(_message.Message):
    __slots__ = ("entity_id", "title", "phrasings", "answer", "language", "end_conversation")
    ENTITY_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PHRASINGS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    END_CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    entity_id: str
    title: str
    phrasings: _containers.RepeatedScalarFieldContainer[str]
    answer: str
    language: str
    end_conversation: bool
    def __init__(self, entity_id: _Optional[str] = ..., title: _Optional[str] = ..., phrasings: _Optional[_Iterable[str]] = ..., answer: _Optional[str] = ..., language: _Optional[str] = ..., end_conversation: _Optional[bool] = ...) -> None: ...

class ConversationStart(_message.Message):
    __slots__ = ("conversation_id", "language", "history", "knowledge")
    CONVERSATION_ID_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    KNOWLEDGE_FIELD_NUMBER: _ClassVar[int]
    conversation_id: str
    language: str
    history: _containers.RepeatedCompositeFieldContainer[Turn]
    knowledge: _containers.RepeatedCompositeFieldContainer[KnowledgeEntry]
    def __init__(self, conversation_id: _Optional[str] = ..., language: _Optional[str] = ..., history: _Optional[_Iterable[_Union[Turn, _Mapping]]] = ..., knowledge: _Optional[_Iterable[_Union[KnowledgeEntry, _Mapping]]] = ...) -> None: ...

class UserTurn(_message.Message):
    __slots__ = ("turn_id", "text")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    text: str
    def __init__(self, turn_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ConversationRequest(_message.Message):
    __slots__ = ("start", "turn")
    START_FIELD_NUMBER: _ClassVar[int]
    TURN_FIELD_NUMBER: _ClassVar[int]
    start: ConversationStart
    turn: UserTurn
    def __init__(self, start: _Optional[_Union[ConversationStart, _Mapping]] = ..., turn: _Optional[_Union[UserTurn, _Mapping]] = ...) -> None: ...

class ReplyChunk(_message.Message):
    __slots__ = ("turn_id", "text")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    text: str
    def __init__(self, turn_id: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class ReplyEnd(_message.Message):
    __slots__ = ("turn_id", "text", "intent", "end_conversation", "engine")
    TURN_ID_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    INTENT_FIELD_NUMBER: _ClassVar[int]
    END_CONVERSATION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    turn_id: str
    text: str
    intent: str
    end_conversation: bool
    engine: str
    def __init__(self, turn_id: _Optional[str] = ..., text: _Optional[str] = ..., intent: _Optional[str] = ..., end_conversation: _Optional[bool] = ..., engine: _Optional[str] = ...) -> None: ...

class ConversationResponse(_message.Message):
    __slots__ = ("chunk", "end")
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    chunk: ReplyChunk
    end: ReplyEnd
    def __init__(self, chunk: _Optional[_Union[ReplyChunk, _Mapping]] = ..., end: _Optional[_Union[ReplyEnd, _Mapping]] = ...) -> None: ...
