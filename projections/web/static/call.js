// The call page (/call?id=…): one call's whole story from GET /api/calls/{id}/story — the conversation
// (each utterance and reply playable from GET /api/calls/{id}/audio/{offset}.wav, decisions, latency of
// each stage), the SIP ladder, media quality over time and the full timeline; the CDR summary from
// GET /api/calls/{id}; the golden button (POST /api/calls/{id}/golden, admin scope).
"use strict";

const $ = (id) => document.getElementById(id);
const callId = new URLSearchParams(location.search).get("id") || "";
const base = "/api/calls/" + encodeURIComponent(callId);
// Each stage: between two records reaching the log (projections/story.py); the engine's own compute time beside it.
const STAGES = [
  ["stt", "end of speech → transcript"], ["dialog", "transcript → reply"], ["tts", "reply → speech"], ["playout", "speech → playback"],
];

function text(v) { return v === null || v === undefined ? "" : String(v); }
function ms(v) {
  if (v === null || v === undefined) return "—";
  return v < 1000 ? Math.round(v) + " ms" : (v / 1000).toFixed(2) + " s";
}
function el(tag, props, ...children) {
  const node = Object.assign(document.createElement(tag), props || {});
  for (const c of children) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}
function since(t0, iso) { return "+" + ((new Date(iso).getTime() - t0) / 1000).toFixed(2) + " s"; }
async function getJson(url) {
  const response = await session.fetch(url);
  if (!response.ok) throw new Error(url + ": HTTP " + response.status);
  return response.json();
}

function summary(call) {
  const dl = el("dl", { className: "kv" });
  const pairs = [
    ["disposition", call.disposition], ["channel", call.channel], ["from → to", text(call.caller) + " → " + text(call.callee)],
    ["started", call.invite_at && new Date(call.invite_at).toLocaleString()], ["duration", call.duration_ms === null ? null : ms(call.duration_ms)],
    ["post-dial delay", call.pdd_ms === null ? null : ms(call.pdd_ms)], ["ended", [call.end_reason, call.hangup_by].filter(Boolean).join(" by ")],
    ["codec", text(call.codec) + (call.srtp ? " (SRTP)" : "")], ["MOS", call.mos === null ? null : Number(call.mos).toFixed(2)],
  ];
  for (const [k, v] of pairs) if (v !== null && v !== undefined && v !== "") dl.append(el("dt", {}, k), el("dd", {}, v));
  return dl;
}

function audioOf(turn) {
  if (!turn.audio_url) return null;
  const audio = el("audio", { controls: true, preload: "metadata", src: turn.audio_url });
  audio.dataset.offset = text(turn.offset);
  audio.dataset.durationMs = text(turn.duration_ms);
  audio.addEventListener("error", () => session.check()); // a lapsed session: sign in again
  return audio;
}

function stagesBar(latency, engine) {
  const known = STAGES.filter(([k]) => latency[k] !== null && latency[k] !== undefined && latency[k] >= 0);
  if (!known.length) return null;
  const total = known.reduce((sum, [k]) => sum + latency[k], 0) || 1;
  const bar = el("div", { className: "stages" });
  for (const [k, label] of known) {
    const part = el("div", { className: "stage-" + k, title: label + ": " + ms(latency[k]) });
    part.style.width = (100 * latency[k] / total).toFixed(2) + "%";
    part.dataset.stage = k;
    bar.append(part);
  }
  const compute = (k) => (engine && engine[k] !== null && engine[k] !== undefined ? " (engine " + ms(engine[k]) + ")" : "");
  const words = known.map(([k]) => k + " " + ms(latency[k]) + compute(k)).join(" · ");
  const v2v = latency.voice_to_voice === null || latency.voice_to_voice === undefined ? "" : " — voice to voice " + ms(latency.voice_to_voice);
  return el("div", { className: "latency" }, bar, el("div", { className: "small muted" }, words + v2v));
}

function renderTurns(story, t0) {
  const box = $("turns");
  box.replaceChildren();
  for (const t of story.turns) {
    const agent = t.speaker === "agent";
    const div = el("div", { className: "turn " + (agent ? "agent" : "caller") });
    div.dataset.speaker = t.speaker;
    const who = [t.speaker, since(t0, t.at)];
    if (!agent && t.stt_engine) who.push(t.stt_engine + (t.confidence === null || t.confidence === undefined ? "" : " " + Number(t.confidence).toFixed(2)));
    if (agent && t.engine) who.push(t.engine);
    if (t.duration_ms) who.push(ms(t.duration_ms) + " of audio");
    if (agent && t.interrupted) who.push("interrupted after " + ms(t.played_ms));
    div.append(el("div", { className: "who" }, who.join(" · ")), el("div", { className: "what" }, t.text || "(no transcript)"));
    if (agent) {
      const decision = t.intent ? "decision: " + t.intent : "decision: none";
      div.append(el("div", { className: "decision" }, decision + (t.end_conversation ? " · ends the call" : "")));
    }
    const audio = audioOf(t);
    if (audio) div.append(audio);
    if (agent && t.latency_ms) {
      const bar = stagesBar(t.latency_ms, t.engine_ms);
      if (bar) div.append(bar);
    }
    box.append(div);
  }
  if (!story.turns.length) box.append(el("div", { className: "empty" }, "Nothing was said."));
  $("legend").replaceChildren(...STAGES.map(([k, label]) => el("span", {}, el("i", { className: "stage-" + k }), label)));
}

function renderSip(story, t0) {
  const body = $("sip").tBodies[0];
  body.replaceChildren();
  for (const s of story.sip) {
    const inbound = s.direction === "in";
    const tr = el("tr");
    tr.dataset.direction = text(s.direction);
    tr.append(el("td", {}, since(t0, s.at)), el("td", {}, inbound ? "●" : ""),
      el("td", { className: "arrow" }, (inbound ? "──▶ " : "◀── ") + text(s.first_line)), el("td", {}, inbound ? "" : "●"));
    body.append(tr);
  }
  $("sip-note").textContent = story.sip.length
    ? (story.sip_source === "derived" ? "rebuilt from the call facts (no signalling recorded)" : story.sip.length + " messages recorded")
    : "not a SIP call";
}

function renderQuality(story, t0) {
  const box = $("quality");
  box.replaceChildren();
  const q = story.quality;
  $("quality-note").textContent = q.length ? q.length + " reports" : "no RTCP reports for this call";
  if (!q.length) return;
  const labels = q.map((r) => since(t0, r.at));
  const chart = (title, values, color, opts) => {
    const div = el("div", { className: "chart" }, el("h3", {}, title));
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    div.append(svg);
    box.append(div);
    Charts.draw(svg, labels, [{ values, color, kind: "line" }], opts);
  };
  chart("Jitter (ms)", q.map((r) => r.jitter_ms), "#b45309");
  chart("Loss (%)", q.map((r) => r.loss_fraction === null ? null : r.loss_fraction * 100), "#b91c1c");
  chart("MOS", q.map((r) => r.mos), "#0891b2", { max: 5 });
}

function summaryOf(e) {
  const skip = new Set(["type", "event_id", "call_id", "seq", "occurred_at", "source", "trace_id", "log", "sdp_offer", "sdp_answer"]);
  return Object.entries(e).filter(([k, v]) => !skip.has(k) && v !== null && v !== "")
    .map(([k, v]) => k + "=" + (typeof v === "string" && v.length > 60 ? v.slice(0, 57) + "…" : v)).join(" ");
}

function renderTimeline(story, t0) {
  const body = $("timeline").tBodies[0];
  body.replaceChildren();
  for (const e of story.events) {
    const command = e.log && e.log.topic && e.log.topic.includes("commands");
    const tr = el("tr");
    tr.append(el("td", {}, since(t0, e.occurred_at)), el("td", {}, (command ? "→ " : "") + e.type), el("td", {}, text(e.source)),
      el("td", { className: "wrap" }, summaryOf(e)));
    body.append(tr);
  }
}

async function golden() {
  const status = $("golden-status");
  status.textContent = "exporting…";
  const response = await session.fetch(base + "/golden", { method: "POST" });
  const data = await response.json().catch(() => ({}));
  status.dataset.outcome = response.ok ? "ok" : "error";
  status.textContent = response.ok
    ? "golden call written to " + data.path + " (" + data.facts + " facts, " + data.utterances + " utterances)"
    : "not exported: " + (data.error || "HTTP " + response.status);
}

async function load() {
  $("call-id").textContent = callId;
  document.title = "Sentiric — call " + callId.slice(0, 8);
  if (!callId) { $("summary").textContent = "No call named: open a call from the dashboard."; return; }
  const started = performance.now();
  const [call, story] = await Promise.all([
    getJson(base).catch((err) => ({ error: err.message })),
    getJson(base + "/story").catch((err) => ({ error: err.message })),
  ]);
  const loadMs = Math.round(performance.now() - started);
  document.body.dataset.loadMs = String(loadMs);
  if (call.error) { $("summary").textContent = "This call is not in the records: " + call.error; } else {
    $("summary").className = "";
    $("summary").replaceChildren(summary(call));
  }
  if (story.error) { $("timeline-note").textContent = "timeline unavailable: " + story.error; return; }
  const t0 = story.events.length ? new Date(story.events[0].occurred_at).getTime() : 0;
  renderTurns(story, t0);
  renderSip(story, t0);
  renderQuality(story, t0);
  renderTimeline(story, t0);
  $("timeline-note").textContent = story.events.length + " records";
  $("load-note").textContent = "loaded in " + loadMs + " ms";
  document.body.dataset.loaded = "yes";
}

$("golden").addEventListener("click", golden);
load();
