// The browser voice client for the edge's /ws gateway (protocol: edge/ws/PROTOCOL.md).
// Microphone → Web Audio (AudioWorklet, ScriptProcessor as a fallback) → 16 kHz int16 → binary frames.
// Binary frames from the gateway (16 kHz int16) are scheduled back to back; a "stopped" playback event
// (barge-in) drops what is still queued.
"use strict";

const RATE = 16000;
const $ = (id) => document.getElementById(id);
const ui = {
  start: $("start"), hangup: $("hangup"), ptt: $("ptt"), text: $("text"), send: $("send"),
  log: $("log"), subtitle: $("subtitle"), heard: $("heard"), state: $("state"), level: $("level"),
  connDot: $("conn-dot"), connText: $("conn-text"), callId: $("call-id"), handsfree: $("handsfree"),
};

let ws = null;
let ctx = null;
let micNode = null;
let capturing = false;
let downsampler = null;
let nextTime = 0;
const sources = new Set();
const turns = new Map(); // utterance_id / reply_id → element
let typed = null; // the bubble of a typed question, until its transcript comes back

function say(kind, text, key) {
  let el = key ? turns.get(key) : null;
  if (!el) {
    el = document.createElement("div");
    el.className = "turn " + kind;
    el.innerHTML = '<div class="who"></div><div class="what"></div>';
    el.querySelector(".who").textContent = kind === "agent" ? "agent" : kind === "caller" ? "you" : kind;
    ui.log.appendChild(el);
    if (key) turns.set(key, el);
  }
  el.querySelector(".what").textContent = text;
  el.dataset.kind = kind;
  ui.log.scrollTop = ui.log.scrollHeight;
  return el;
}

function note(kind, text) {
  const el = document.createElement("div");
  el.className = "line " + kind;
  el.textContent = text;
  ui.log.appendChild(el);
  ui.log.scrollTop = ui.log.scrollHeight;
}

function setConnected(on, text) {
  ui.connDot.classList.toggle("on", on);
  ui.connText.textContent = text;
  ui.start.disabled = on;
  for (const el of [ui.hangup, ui.ptt, ui.text, ui.send]) el.disabled = !on;
}

async function gatewayUrl() {
  const forced = new URLSearchParams(location.search).get("ws");
  if (forced) return forced;
  const response = await session.fetch("/api/web/config"); // 401: off to the sign-in page
  return (await response.json()).ws_url;
}

// --- audio out ---

function playPcm(buffer) {
  const samples = new Int16Array(buffer);
  if (!samples.length || !ctx) return;
  const floats = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) floats[i] = samples[i] / 32768;
  const audio = ctx.createBuffer(1, floats.length, RATE);
  audio.copyToChannel(floats, 0);
  const src = ctx.createBufferSource();
  src.buffer = audio;
  src.connect(ctx.destination);
  const at = Math.max(ctx.currentTime + 0.05, nextTime);
  src.start(at);
  nextTime = at + audio.duration;
  sources.add(src);
  src.onended = () => sources.delete(src);
}

function flushPlayback() {
  for (const src of sources) { try { src.stop(); } catch (e) { /* already stopped */ } }
  sources.clear();
  nextTime = 0;
}

// --- audio in ---

class Downsampler {
  constructor(inRate, outRate) { this.ratio = inRate / outRate; this.pos = 0; this.rest = new Float32Array(0); }
  push(input) {
    const data = new Float32Array(this.rest.length + input.length);
    data.set(this.rest); data.set(input, this.rest.length);
    const out = new Int16Array(Math.floor((data.length - this.pos) / this.ratio));
    let t = this.pos, n = 0;
    while (n < out.length && t + this.ratio <= data.length) {
      const a = Math.floor(t), b = Math.max(a + 1, Math.floor(t + this.ratio));
      let sum = 0;
      for (let k = a; k < b; k++) sum += data[k];
      const v = Math.max(-1, Math.min(1, sum / (b - a)));
      out[n++] = v < 0 ? v * 32768 : v * 32767;
      t += this.ratio;
    }
    const keep = Math.floor(t);
    this.rest = data.slice(keep);
    this.pos = t - keep;
    return out.subarray(0, n);
  }
}

function onMicBlock(block) {
  let peak = 0;
  for (let i = 0; i < block.length; i += 8) peak = Math.max(peak, Math.abs(block[i]));
  ui.level.style.width = Math.min(100, peak * 140) + "%";
  if (!capturing || !ws || ws.readyState !== WebSocket.OPEN) return;
  const pcm = downsampler.push(block);
  if (pcm.length) ws.send(pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength));
}

async function openMic() {
  if (micNode) return;
  const stream = await navigator.mediaDevices.getUserMedia({
    audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
  });
  const source = ctx.createMediaStreamSource(stream);
  downsampler = new Downsampler(ctx.sampleRate, RATE);
  const mute = ctx.createGain();
  mute.gain.value = 0; // keep the graph pulling without echoing the microphone
  if (ctx.audioWorklet) {
    await ctx.audioWorklet.addModule("/web/capture-worklet.js");
    micNode = new AudioWorkletNode(ctx, "capture-processor");
    micNode.port.onmessage = (event) => onMicBlock(event.data);
  } else {
    micNode = ctx.createScriptProcessor(2048, 1, 1);
    micNode.onaudioprocess = (event) => onMicBlock(event.inputBuffer.getChannelData(0));
  }
  source.connect(micNode);
  micNode.connect(mute);
  mute.connect(ctx.destination);
}

function talk(on) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  if (on === capturing) return;
  capturing = on;
  ui.ptt.classList.toggle("held", on);
  ui.ptt.setAttribute("aria-pressed", String(on));
  ui.ptt.textContent = on ? "Listening…" : "Hold to talk";
  if (!on && !ui.handsfree.checked) {
    ws.send(new Int16Array(RATE * 0.8).buffer); // 800 ms of silence: the end of the turn, at once
  }
}

// --- the call ---

function onMessage(event) {
  if (typeof event.data !== "string") { playPcm(event.data); return; }
  const msg = JSON.parse(event.data);
  switch (msg.type) {
    case "session":
      document.body.dataset.callId = msg.call_id;
      ui.callId.textContent = "call " + msg.call_id;
      setConnected(true, "connected");
      if (ui.handsfree.checked) talk(true);
      break;
    case "speech":
      ui.heard.textContent = "…";
      break;
    case "transcript":
      ui.heard.textContent = msg.text;
      if (typed && typed.querySelector(".what").textContent === msg.text) {
        turns.set(msg.utterance_id, typed); // the typed question came back through the STT worker
        typed = null;
      } else if (msg.text.trim()) {
        say("caller", msg.text, msg.utterance_id);
      }
      break;
    case "reply":
      ui.subtitle.textContent = msg.text;
      say("agent", msg.text, msg.reply_id);
      break;
    case "state":
      ui.state.textContent = msg.to_state;
      document.body.dataset.state = msg.to_state;
      break;
    case "playback":
      if (msg.event === "stopped") flushPlayback();
      break;
    case "hangup":
      note("system", "The agent ended the call (" + msg.reason + ").");
      break;
    case "error":
      note("error", "Error: " + msg.message);
      break;
  }
}

async function start() {
  ui.start.disabled = true;
  try {
    ctx = ctx || new AudioContext();
    await ctx.resume();
    await openMic();
  } catch (err) {
    note("error", "Microphone unavailable (" + err.message + "); you can still type.");
  }
  let url;
  try { url = await gatewayUrl(); } catch (err) { note("error", "No gateway address: " + err.message); ui.start.disabled = false; return; }
  setConnected(false, "connecting…");
  ui.start.disabled = true;
  ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onmessage = onMessage;
  let opened = false;
  ws.onopen = () => { opened = true; };
  ws.onclose = (event) => {
    // A refused upgrade (401: the session lapsed) shows only as 1006 before open: check, maybe sign in.
    if (!opened && event.code === 1006) session.check();
    capturing = false;
    flushPlayback();
    setConnected(false, "closed" + (event.reason ? ": " + event.reason : "") + " (" + event.code + ")");
    note("system", "Call ended" + (event.reason ? ": " + event.reason : "") + ".");
    ws = null;
  };
  ws.onerror = () => note("error", "Cannot reach the voice gateway at " + url + ".");
}

ui.start.addEventListener("click", start);
ui.hangup.addEventListener("click", () => ws && ws.send(JSON.stringify({ type: "hangup" })));
ui.ptt.addEventListener("pointerdown", (e) => { e.preventDefault(); ui.ptt.setPointerCapture(e.pointerId); talk(true); });
ui.ptt.addEventListener("pointerup", () => talk(false));
ui.ptt.addEventListener("pointercancel", () => talk(false));
ui.handsfree.addEventListener("change", () => talk(ui.handsfree.checked));
document.addEventListener("keydown", (e) => {
  if (e.code === "Space" && !e.repeat && document.activeElement !== ui.text) { e.preventDefault(); talk(true); }
});
document.addEventListener("keyup", (e) => {
  if (e.code === "Space" && document.activeElement !== ui.text && !ui.handsfree.checked) talk(false);
});
$("typed").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.text.value.trim();
  if (!text || !ws) return;
  ws.send(JSON.stringify({ type: "text", text }));
  typed = say("caller", text);
  ui.text.value = "";
});
