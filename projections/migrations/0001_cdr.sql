-- projection
-- Call detail records, transcript turns, playbacks, DTMF; the projector's bookkeeping.
-- Every projection table is a pure function of the log: no wall-clock columns.

CREATE TABLE calls (
    call_id           text PRIMARY KEY,
    sip_call_id       text,
    caller            text,
    callee            text,
    from_uri          text,
    to_uri            text,
    channel           text,
    transport         text,
    remote_addr       text,
    user_agent        text,
    edge_node         text,
    invite_at         timestamptz,
    answered_at       timestamptz,
    established_at    timestamptz,
    ended_at          timestamptz,
    rejected_at       timestamptz,
    cancelled_at      timestamptz,
    dialplan_id       text,
    dialplan_action   text,
    language          text,
    codec             text,
    srtp              boolean,
    rtp_port          integer,
    reject_status     integer,
    reject_reason     text,
    reject_stage      text,
    cancel_reason     text,
    end_reason        text,
    hangup_by         text,
    end_sip_status    integer,
    setup_ms          double precision,
    talk_ms           bigint,
    total_ms          bigint,
    mos               double precision,
    r_factor          double precision,
    loss_fraction     double precision,
    jitter_ms         double precision,
    rtt_ms            double precision,
    packets_received  bigint,
    packets_lost      bigint,
    quality_final     boolean,
    quality_seq       bigint,
    recording_uri     text,
    recording_format  text,
    recording_bytes   bigint,
    recording_ms      bigint,
    recording_seq     bigint,
    transfer_target   text,
    transfer_status   text,
    transfer_seq      bigint,
    log_topic         text,
    log_partition     integer,
    first_offset      bigint,
    last_offset       bigint,
    event_count       integer NOT NULL DEFAULT 0,
    disposition       text NOT NULL,
    pdd_ms            double precision,
    duration_ms       bigint,
    finished_at       timestamptz
);
CREATE INDEX calls_invite_at ON calls (invite_at DESC, call_id DESC);
CREATE INDEX calls_caller ON calls (caller, invite_at DESC);
CREATE INDEX calls_callee ON calls (callee, invite_at DESC);
CREATE INDEX calls_disposition ON calls (disposition, invite_at DESC);
CREATE INDEX calls_active ON calls (invite_at) WHERE finished_at IS NULL;

CREATE TABLE transcript_turns (
    call_id           text NOT NULL,
    turn_id           text NOT NULL,
    speaker           text,
    at                timestamptz,
    text              text,
    language          text,
    confidence        double precision,
    utterance_id      text,
    intent            text,
    end_conversation  boolean,
    captured_at       timestamptz,
    audio_start_ms    bigint,
    audio_end_ms      bigint,
    end_of_speech     text,
    transcribed_at    timestamptz,
    stt_engine        text,
    stt_latency_ms    double precision,
    transcript_seq    bigint,
    replied_at        timestamptz,
    dialog_engine     text,
    dialog_latency_ms double precision,
    synthesized_at    timestamptz,
    tts_engine        text,
    tts_latency_ms    double precision,
    PRIMARY KEY (call_id, turn_id)
);
CREATE INDEX transcript_turns_utterance ON transcript_turns (call_id, utterance_id);
CREATE INDEX transcript_turns_at ON transcript_turns (at);

CREATE TABLE playbacks (
    call_id           text NOT NULL,
    playback_id       text NOT NULL,
    started_at        timestamptz,
    source_uri        text,
    duration_ms       bigint,
    finished_at       timestamptz,
    interrupted       boolean,
    played_ms         bigint,
    finish_reason     text,
    PRIMARY KEY (call_id, playback_id)
);

CREATE TABLE dtmf (
    call_id           text NOT NULL,
    event_id          uuid NOT NULL,
    seq               bigint NOT NULL,
    at                timestamptz NOT NULL,
    digit             text NOT NULL,
    duration_ms       integer NOT NULL,
    method            text NOT NULL,
    PRIMARY KEY (call_id, event_id)
);

CREATE TABLE kpi_windows (
    source            text NOT NULL,
    window_start      timestamptz NOT NULL,
    window_end        timestamptz NOT NULL,
    calls_offered     integer NOT NULL,
    calls_answered    integer NOT NULL,
    calls_ended       integer NOT NULL,
    calls_rejected    integer NOT NULL,
    asr               double precision,
    acd_ms            double precision,
    pdd_ms_p50        double precision,
    pdd_ms_p95        double precision,
    stt_ms_p50        double precision,
    stt_ms_p95        double precision,
    dialog_ms_p50     double precision,
    dialog_ms_p95     double precision,
    tts_ms_p50        double precision,
    tts_ms_p95        double precision,
    v2v_ms_p50        double precision,
    v2v_ms_p95        double precision,
    PRIMARY KEY (source, window_start)
);

-- De-duplication: a fact delivered twice (an upstream republish) is applied once.
CREATE TABLE processed_events (
    event_id          uuid PRIMARY KEY,
    call_id           text
);

-- Where the projector resumes: written in the same transaction as the rows.
CREATE TABLE consumer_offsets (
    topic             text NOT NULL,
    partition         integer NOT NULL,
    next_offset       bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
