// The operator dashboard: live calls (SSE /api/live), CDRs (/api/calls), one call (/api/calls/{id},
// /events, /recording), KPIs (/api/stats) and KPI charts (/api/web/series); operator buttons on a live call
// (hang up, say, mute, record: POST /api/calls/{id}/…).
"use strict";

const $ = (id) => document.getElementById(id);
const live = new Map();
let cursorStack = [];
let nextCursor = null;
let selected = null;

function text(value) { return value === null || value === undefined ? "" : String(value); }
function short(id) { return id ? id.slice(0, 8) : ""; }
function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
function ms(v) {
  if (v === null || v === undefined) return "";
  if (v < 1000) return Math.round(v) + " ms";
  const s = v / 1000;
  return s < 120 ? s.toFixed(1) + " s" : Math.floor(s / 60) + " min " + Math.round(s % 60) + " s";
}
function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + " %"; }
function num(v, digits = 2) { return v === null || v === undefined ? "—" : Number(v).toFixed(digits); }
function pill(value, extra) {
  const span = document.createElement("span");
  span.className = "pill " + text(value) + (extra ? " " + extra : "");
  span.textContent = text(value) || "—";
  return span;
}
function cell(row, content, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  if (content instanceof Node) td.appendChild(content); else td.textContent = text(content);
  row.appendChild(td);
  return td;
}
async function getJson(url) {
  const response = await session.fetch(url); // 401: off to the sign-in page
  if (!response.ok) throw new Error(url + ": HTTP " + response.status);
  return response.json();
}

// --- live calls ---

function renderLive() {
  const body = $("live").tBodies[0];
  body.replaceChildren();
  const calls = [...live.values()].sort((a, b) => text(b.invite_at).localeCompare(text(a.invite_at)));
  for (const c of calls) {
    const tr = document.createElement("tr");
    tr.className = "click" + (c.call_id === selected ? " selected" : "");
    tr.dataset.callId = c.call_id;
    cell(tr, short(c.call_id)).title = c.call_id;
    cell(tr, pill(c.channel));
    cell(tr, text(c.caller) + " → " + text(c.callee));
    cell(tr, pill(c.status));
    cell(tr, text(c.dialog_state));
    cell(tr, c.last_agent_text ? "agent: " + c.last_agent_text : c.last_caller_text ? "caller: " + c.last_caller_text : "", "wrap");
    tr.addEventListener("click", () => openCall(c.call_id));
    body.appendChild(tr);
  }
  $("live-count").textContent = String(calls.length);
  $("live-empty").hidden = calls.length > 0;
}

function connectLive() {
  const source = new EventSource("/api/live");
  source.addEventListener("open", () => { $("live-dot").classList.add("on"); $("live-text").textContent = "live"; });
  source.addEventListener("error", async () => {
    $("live-dot").classList.remove("on");
    $("live-text").textContent = "live feed reconnecting…";
    // An HTTP error (401 when the session lapsed) closes an EventSource for good; a network error
    // does not. Closed: check the session (or sign in), then open a new one.
    if (source.readyState === EventSource.CLOSED && (await session.check())) setTimeout(connectLive, 2000);
  });
  source.addEventListener("snapshot", (event) => {
    live.clear();
    for (const c of JSON.parse(event.data)) live.set(c.call_id, c);
    renderLive();
  });
  source.addEventListener("call", (event) => {
    const c = JSON.parse(event.data);
    if (c.status === "ended") {
      live.delete(c.call_id);
      setTimeout(loadCalls, 1500); // the CDR row is final once the projector has caught up
      if (c.call_id === selected) setTimeout(() => openCall(c.call_id), 1500);
    } else {
      live.set(c.call_id, c);
    }
    renderLive();
  });
}

// --- CDRs ---

function filterQuery() {
  const form = new FormData($("filters"));
  const q = new URLSearchParams({ limit: "25" });
  for (const [key, value] of form.entries()) {
    if (!value) continue;
    q.set(key, key === "from" || key === "to" ? new Date(value).toISOString() : value);
  }
  return q;
}

async function loadCalls(cursor) {
  const q = filterQuery();
  if (cursor) q.set("cursor", cursor);
  const started = performance.now();
  let page;
  try {
    page = await getJson("/api/calls?" + q);
  } catch (err) {
    $("cdr-note").textContent = "records unavailable: " + err.message;
    return;
  }
  const body = $("cdrs").tBodies[0];
  body.replaceChildren();
  for (const c of page.items) {
    const tr = document.createElement("tr");
    tr.className = "click" + (c.call_id === selected ? " selected" : "");
    tr.dataset.callId = c.call_id;
    cell(tr, when(c.invite_at));
    cell(tr, short(c.call_id)).title = c.call_id;
    cell(tr, pill(c.channel));
    cell(tr, text(c.caller) + " → " + text(c.callee));
    cell(tr, pill(c.disposition));
    cell(tr, [c.end_reason, c.hangup_by].filter(Boolean).join(" / "));
    cell(tr, ms(c.duration_ms));
    cell(tr, ms(c.pdd_ms));
    cell(tr, text(c.codec) + (c.srtp ? " 🔒" : ""));
    cell(tr, c.mos === null || c.mos === undefined ? "" : num(c.mos));
    tr.addEventListener("click", () => openCall(c.call_id));
    body.appendChild(tr);
  }
  nextCursor = page.next_cursor;
  $("more").disabled = !nextCursor;
  $("cdrs-empty").hidden = page.items.length > 0;
  $("cdr-note").textContent = page.items.length + " calls · " + Math.round(performance.now() - started) + " ms";
}

// --- one call ---

function kv(pairs) {
  const dl = document.createElement("dl");
  dl.className = "kv";
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "") continue;
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd");
    if (v instanceof Node) dd.appendChild(v); else dd.textContent = String(v);
    dl.append(dt, dd);
  }
  return dl;
}

function eventSummary(e) {
  const skip = new Set(["type", "event_id", "call_id", "seq", "occurred_at", "source", "trace_id", "log", "sdp_offer", "sdp_answer"]);
  return Object.entries(e)
    .filter(([k, v]) => !skip.has(k) && v !== null && v !== "")
    .map(([k, v]) => k + "=" + (typeof v === "string" && v.length > 60 ? v.slice(0, 57) + "…" : v))
    .join(" ");
}

// --- operator actions on a live call (POST /api/calls/{id}/…, admin scope) ---

async function operatorAction(callId, action, payload) {
  const status = $("op-status");
  const response = await session.fetch("/api/calls/" + encodeURIComponent(callId) + "/" + action, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload || {}),
  });
  const data = await response.json().catch(() => ({}));
  status.textContent = response.ok ? data.command + " sent" : action + " refused: " + (data.error || response.status);
  status.dataset.outcome = response.ok ? "ok" : "error";
  return response.ok ? data : null;
}

function operatorPanel(callId) {
  const box = document.createElement("div");
  box.className = "controls";
  box.id = "operator";
  box.style.margin = ".6rem 0";
  const button = (id, label, onClick) => {
    const b = Object.assign(document.createElement("button"), { id, type: "button", textContent: label });
    b.addEventListener("click", onClick);
    box.appendChild(b);
    return b;
  };
  let recordingId = null;
  button("op-hangup", "Hang up", () => operatorAction(callId, "hangup"));
  button("op-mute", "Mute agent", () => operatorAction(callId, "mute"));
  button("op-unmute", "Unmute agent", () => operatorAction(callId, "unmute"));
  const record = button("op-record", "Record", async () => {
    if (recordingId === null) {
      const sent = await operatorAction(callId, "recording/start", { format: "wav" });
      if (sent) { recordingId = sent.detail.recording_id; record.textContent = "Stop recording"; }
    } else {
      const sent = await operatorAction(callId, "recording/stop", { recording_id: recordingId });
      if (sent) { recordingId = null; record.textContent = "Record"; }
    }
  });
  const say = Object.assign(document.createElement("input"), { id: "op-text", placeholder: "say to the caller…", size: 28, maxLength: 1000 });
  box.appendChild(say);
  button("op-say", "Say", async () => {
    if (say.value.trim() && await operatorAction(callId, "say", { text: say.value.trim() })) say.value = "";
  });
  box.appendChild(Object.assign(document.createElement("span"), { id: "op-status", className: "muted small" }));
  const heard = Object.assign(document.createElement("span"), { id: "op-listen-status", className: "muted small" });
  const listen = button("op-listen", listening && listening.callId === callId ? "Stop listening" : "Listen", () => {
    if (listening && listening.callId === callId) stopListening();
    else startListening(callId, listen);
  });
  box.appendChild(heard);
  if (listening && listening.callId === callId) {  // the panel was drawn again while listening
    listening.button = listen;
    showListening(listening.state);
  }
  return box;
}

// --- listen-in: the call's live audio in the browser, the caller and the agent (or the person a
// transfer joined) mixed: WS /api/calls/{id}/listen (admin scope) relays the edge's StreamAudio as
// 8 kHz 16-bit PCM frames, played through Web Audio with a short jitter buffer ---

let listening = null;

function stopListening() {
  if (!listening) return;
  const { ws, ctx, button } = listening;
  listening = null;
  ws.close(1000, "operator stopped listening");
  ctx.close().catch(() => {});
  button.textContent = "Listen";
}

function showListening(text) {
  const status = $("op-listen-status");
  if (!status) return;
  status.textContent = text;
  if (listening) {  // what was heard, for the operator (and the browser test)
    status.dataset.frames = String(listening.frames);
    status.dataset.peak = String(listening.peak);
  }
}

function startListening(callId, button) {
  stopListening();
  const ctx = new AudioContext();
  ctx.resume().catch(() => {});  // the click is the user gesture that lets it play
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(scheme + "//" + location.host + "/api/calls/" + encodeURIComponent(callId) + "/listen");
  ws.binaryType = "arraybuffer";
  const state = listening = { callId, ws, ctx, button, frames: 0, peak: 0, state: "connecting…" };
  button.textContent = "Stop listening";
  showListening(state.state);
  let rate = 8000, playAt = 0;
  ws.onmessage = (event) => {
    if (typeof event.data === "string") {
      const head = JSON.parse(event.data);
      rate = head.sample_rate || 8000;
      state.state = "listening (" + head.direction + ")";
      showListening(state.state);
      return;
    }
    const pcm = new Int16Array(event.data);
    if (!pcm.length) return;
    const buffer = ctx.createBuffer(1, pcm.length, rate);
    const samples = buffer.getChannelData(0);
    for (let i = 0; i < pcm.length; i++) {
      samples[i] = pcm[i] / 32768;
      const level = Math.abs(pcm[i]);
      if (level > state.peak) state.peak = level;
    }
    state.frames += 1;
    if (state.frames % 10 === 1) showListening(state.state);
    const source = ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(ctx.destination);
    const now = ctx.currentTime;
    if (playAt < now + 0.02 || playAt > now + 1.0) playAt = now + 0.12;  // (re)start behind a 120 ms buffer
    source.start(playAt);
    playAt += buffer.duration;
  };
  ws.onclose = (event) => {
    state.state = "not listening: " + (event.reason || (event.code === 1006 ? "refused" : "closed " + event.code));
    const mine = listening === state;
    showListening(state.state);
    if (mine) {
      listening = null;
      ctx.close().catch(() => {});
      state.button.textContent = "Listen";
    }
  };
}

async function openCall(callId) {
  if (listening && listening.callId !== callId) stopListening();
  selected = callId;
  location.hash = "call=" + encodeURIComponent(callId);
  for (const tr of document.querySelectorAll("tr[data-call-id]")) tr.classList.toggle("selected", tr.dataset.callId === callId);
  $("detail-id").textContent = callId;
  const body = $("detail-body");
  body.className = "";
  body.replaceChildren(Object.assign(document.createElement("div"), { className: "empty", textContent: "loading…" }));
  let call = null, events = [];
  try { call = await getJson("/api/calls/" + encodeURIComponent(callId)); } catch (err) { /* not projected yet */ }
  try { events = await getJson("/api/calls/" + encodeURIComponent(callId) + "/events"); } catch (err) { /* idem */ }
  if (selected !== callId) return;
  body.replaceChildren();
  if (!call && !events.length) {
    body.appendChild(Object.assign(document.createElement("div"), { className: "empty", textContent: "This call is not in the records yet." }));
    return;
  }
  if (call) {
    body.appendChild(kv([
      ["disposition", pill(call.disposition)], ["channel", call.channel], ["from → to", text(call.caller) + " → " + text(call.callee)],
      ["started", when(call.invite_at)], ["duration", ms(call.duration_ms)], ["post-dial delay", ms(call.pdd_ms)],
      ["ended", [call.end_reason, call.hangup_by].filter(Boolean).join(" by ")], ["codec", text(call.codec) + (call.srtp ? " (SRTP)" : "")],
      ["MOS", call.mos === null ? null : num(call.mos)], ["loss", call.loss_fraction === null ? null : pct(call.loss_fraction)],
      ["jitter", call.jitter_ms === null ? null : num(call.jitter_ms, 1) + " ms"], ["RTT", call.rtt_ms === null ? null : num(call.rtt_ms, 1) + " ms"],
    ]));
    const story = Object.assign(document.createElement("a"), { id: "story-link", href: "/call?id=" + encodeURIComponent(callId), textContent: "The whole story: audio, SIP ladder, latency, quality →" });
    body.appendChild(Object.assign(document.createElement("div"), { className: "small" })).appendChild(story);
    if (!call.ended_at && call.answered_at && call.disposition === "in-progress") body.appendChild(operatorPanel(callId));
    if (call.recording_uri) {
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = "/api/calls/" + encodeURIComponent(callId) + "/recording";
      audio.addEventListener("error", () => session.check()); // a lapsed session: sign in again
      body.appendChild(kv([["recording", audio]]));
    }
    const h = document.createElement("h2"); h.textContent = "Transcript"; h.style.marginTop = ".8rem";
    body.appendChild(h);
    const turns = document.createElement("div");
    turns.className = "turns";
    turns.id = "transcript";
    for (const t of call.transcript || []) {
      if (!t.text) continue;
      const agent = (t.speaker || "").startsWith("agent");
      const div = document.createElement("div");
      div.className = "turn " + (agent ? "agent" : "caller");
      const who = document.createElement("div"); who.className = "who";
      who.textContent = (t.speaker || "") + (t.stt_latency_ms ? " · STT " + Math.round(t.stt_latency_ms) + " ms" : "");
      const what = document.createElement("div"); what.textContent = t.text;
      div.append(who, what);
      turns.appendChild(div);
    }
    if (!turns.children.length) turns.appendChild(Object.assign(document.createElement("div"), { className: "empty", textContent: "No transcript." }));
    body.appendChild(turns);
  }
  const h = document.createElement("h2"); h.textContent = "Timeline (" + events.length + " records)"; h.style.marginTop = ".8rem";
  body.appendChild(h);
  const wrap = document.createElement("div"); wrap.className = "scroll";
  const table = document.createElement("table"); table.className = "events"; table.id = "timeline";
  const t0 = events.length ? new Date(events[0].occurred_at).getTime() : 0;
  for (const e of events) {
    const tr = document.createElement("tr");
    cell(tr, "+" + ((new Date(e.occurred_at).getTime() - t0) / 1000).toFixed(2) + " s");
    cell(tr, (e.log && e.log.topic && e.log.topic.includes("commands") ? "→ " : "") + e.type);
    cell(tr, e.source);
    cell(tr, eventSummary(e), "wrap");
    table.appendChild(tr);
  }
  wrap.appendChild(table);
  body.appendChild(wrap);
}

// --- KPIs ---

function tile(k, v) {
  const div = document.createElement("div");
  div.className = "tile";
  div.innerHTML = '<div class="v"></div><div class="k"></div>';
  div.querySelector(".v").textContent = v;
  div.querySelector(".k").textContent = k;
  return div;
}

function chartBox(title) {
  const div = document.createElement("div");
  div.className = "chart";
  div.innerHTML = "<h3></h3>";
  div.querySelector("h3").textContent = title;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  div.appendChild(svg);
  $("charts").appendChild(div);
  return svg;
}

async function loadKpis() {
  const hours = Number($("range").value);
  const to = new Date();
  const from = new Date(to.getTime() - hours * 3600e3);
  const q = new URLSearchParams({ from: from.toISOString(), to: to.toISOString() });
  const tiles = $("tiles");
  try {
    const s = await getJson("/api/stats?" + q);
    tiles.replaceChildren(
      tile("active calls", s.active_calls), tile("calls offered", s.calls_offered), tile("calls / min", num(s.calls_per_minute)),
      tile("ASR", pct(s.asr)), tile("ACD", s.acd_ms === null ? "—" : ms(s.acd_ms)), tile("PDD p50", s.pdd_ms.p50 === null ? "—" : ms(s.pdd_ms.p50)),
      tile("STT p50", s.stt_ms.p50 === null ? "—" : ms(s.stt_ms.p50)), tile("voice-to-voice p50", s.voice_to_voice_ms.p50 === null ? "—" : ms(s.voice_to_voice_ms.p50)),
      tile("MOS mean", num(s.mos.mean)),
    );
    $("kpi-note").textContent = "";
  } catch (err) {
    $("kpi-note").textContent = "KPIs unavailable: " + err.message;
  }
  $("charts").replaceChildren();
  const buckets = hours <= 1 ? 12 : 24;
  q.set("buckets", String(buckets));
  try {
    const series = await getJson("/api/web/series?" + q);
    const labels = series.points.map((p) => {
      const d = new Date(p.at);
      return hours > 24 ? d.toLocaleDateString(undefined, { month: "numeric", day: "numeric" }) : d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    });
    const col = (k) => series.points.map((p) => p[k]);
    Charts.draw(chartBox("Calls offered / answered"), labels, [
      { values: col("offered"), color: "#cbd5e1", kind: "bar" }, { values: col("answered"), color: "#2563eb", kind: "line" },
    ]);
    Charts.draw(chartBox("ASR"), labels, [{ values: col("asr"), color: "#15803d", kind: "line" }], { max: 1 });
    Charts.draw(chartBox("ACD (s)"), labels, [{ values: col("acd_ms").map((v) => (v === null ? null : v / 1000)), color: "#7c3aed", kind: "line" }]);
    Charts.draw(chartBox("PDD p50 (ms)"), labels, [{ values: col("pdd_ms_p50"), color: "#b45309", kind: "line" }]);
    Charts.draw(chartBox("MOS"), labels, [{ values: col("mos"), color: "#0891b2", kind: "line" }], { max: 5 });
  } catch (err) {
    $("kpi-note").textContent += " charts unavailable: " + err.message;
  }
}

// --- wiring ---

$("filters").addEventListener("submit", (e) => { e.preventDefault(); cursorStack = []; loadCalls(); });
$("reset").addEventListener("click", () => { $("filters").reset(); cursorStack = []; loadCalls(); });
$("more").addEventListener("click", () => { if (nextCursor) { cursorStack.push(nextCursor); loadCalls(nextCursor); } });
$("first").addEventListener("click", () => { cursorStack = []; loadCalls(); });
$("range").addEventListener("change", loadKpis);

connectLive();
loadCalls();
loadKpis();
setInterval(loadKpis, 30000);
const fromHash = new URLSearchParams(location.hash.slice(1)).get("call");
if (fromHash) openCall(fromHash);
