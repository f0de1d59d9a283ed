from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AudioDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AUDIO_DIRECTION_CALLER: _ClassVar[AudioDirection]
    AUDIO_DIRECTION_AGENT: _ClassVar[AudioDirection]
    AUDIO_DIRECTION_MIXED: _ClassVar[AudioDirection]
AUDIO_DIRECTION_CALLER: AudioDirection
AUDIO_DIRECTION_AGENT: AudioDirection
AUDIO_DIRECTION_MIXED: AudioDirection

class AllocatePortRequest(_message.Message):
    __slots__ = ("call_id", "remote_host", "remote_port", "codec", "payload_type", "dtmf_payload_type", "crypto_local", "crypto_remote")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    REMOTE_HOST_FIELD_NUMBER: _ClassVar[int]
    REMOTE_PORT_FIELD_NUMBER: _ClassVar[int]
    CODEC_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    DTMF_PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_LOCAL_FIELD_NUMBER: _ClassVar[int]
    CRYPTO_REMOTE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    remote_host: str
    remote_port: int
    codec: str
    payload_type: int
    dtmf_payload_type: int
    crypto_local: str
    crypto_remote: str
    def __init__(self, call_id: _Optional[str] = ..., remote_host: _Optional[str] = ..., remote_port: _Optional[int] = ..., codec: _Optional[str] = ..., payload_type: _Optional[int] = ..., dtmf_payload_type: _Optional[int] = ..., crypto_local: _Optional[str] = ..., crypto_remote: _Optional[str] = ...) -> None: ...

class AllocatePortResponse(_message.Message):
    __slots__ = ("host", "rtp_port", "rtcp_port")
    HOST_FIELD_NUMBER: _ClassVar[int]
    RTP_PORT_FIELD_NUMBER: _ClassVar[int]
    RTCP_PORT_FIELD_NUMBER: _ClassVar[int]
    host: str
    rtp_port: int
    rtcp_port: int
    def __init__(self, host: _Optional[str] = ..., rtp_port: _Optional[int] = ..., rtcp_port: _Optional[int] = ...) -> None: ...

class ReleasePortRequest(_message.Message):
    __slots__ = ("call_id",)
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    def __init__(self, call_id: _Optional[str] = ...) -> None: ...

class ReleasePortResponse(_message.Message):
    __slots__ = ("rtp_port",)
    RTP_PORT_FIELD_NUMBER: _ClassVar[int]
    rtp_port: int
    def __init__(self, rtp_port: _Optional[int] = ...) -> None: ...

class PlayAudioRequest(_message.Message):
    __slots__ = ("call_id", "playback_id", "audio_uri", "pcm", "sample_rate", "barge_in")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    PLAYBACK_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_URI_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    BARGE_IN_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    playback_id: str
    audio_uri: str
    pcm: bytes
    sample_rate: int
    barge_in: bool
    def __init__(self, call_id: _Optional[str] = ..., playback_id: _Optional[str] = ..., audio_uri: _Optional[str] = ..., pcm: _Optional[bytes] = ..., sample_rate: _Optional[int] = ..., barge_in: _Optional[bool] = ...) -> None: ...

class PlayAudioResponse(_message.Message):
    __slots__ = ("playback_id",)
    PLAYBACK_ID_FIELD_NUMBER: _ClassVar[int]
    playback_id: str
    def __init__(self, playback_id: _Optional[str] = ...) -> None: ...

class RecordAudioRequest(_message.Message):
    __slots__ = ("call_id", "sample_rate")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    sample_rate: int
    def __init__(self, call_id: _Optional[str] = ..., sample_rate: _Optional[int] = ...) -> None: ...

class StreamAudioRequest(_message.Message):
    __slots__ = ("call_id", "direction", "sample_rate")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    direction: AudioDirection
    sample_rate: int
    def __init__(self, call_id: _Optional[str] = ..., direction: _Optional[_Union[AudioDirection, str]] = ..., sample_rate: _Optional[int] = ...) -> None: ...

class AudioFrame(_message.Message):
    __slots__ = ("pcm", "sample_rate", "sequence", "dropped")
    PCM_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    pcm: bytes
    sample_rate: int
    sequence: int
    dropped: int
    def __init__(self, pcm: _Optional[bytes] = ..., sample_rate: _Optional[int] = ..., sequence: _Optional[int] = ..., dropped: _Optional[int] = ...) -> None: ...

class InjectAudioRequest(_message.Message):
    __slots__ = ("call_id", "pcm", "sample_rate")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    PCM_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    pcm: bytes
    sample_rate: int
    def __init__(self, call_id: _Optional[str] = ..., pcm: _Optional[bytes] = ..., sample_rate: _Optional[int] = ...) -> None: ...

class InjectAudioResponse(_message.Message):
    __slots__ = ("samples_received", "samples_dropped")
    SAMPLES_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    samples_received: int
    samples_dropped: int
    def __init__(self, samples_received: _Optional[int] = ..., samples_dropped: _Optional[int] = ...) -> None: ...

class StartRecordingRequest(_message.Message):
    __slots__ = ("call_id", "recording_id", "output_uri", "format")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDING_ID_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_URI_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    recording_id: str
    output_uri: str
    format: str
    def __init__(self, call_id: _Optional[str] = ..., recording_id: _Optional[str] = ..., output_uri: _Optional[str] = ..., format: _Optional[str] = ...) -> None: ...

class StartRecordingResponse(_message.Message):
    __slots__ = ("recording_id",)
    RECORDING_ID_FIELD_NUMBER: _ClassVar[int]
    recording_id: str
    def __init__(self, recording_id: _Optional[str] = ...) -> None: ...

class StopRecordingRequest(_message.Message):
    __slots__ = ("call_id", "recording_id")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDING_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    recording_id: str
    def __init__(self, call_id: _Optional[str] = ..., recording_id: _Optional[str] = ...) -> None: ...

class StopRecordingResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
