// The admin console: config records (/api/admin/<kind>) listed, created, edited and deleted; API tokens
// issued (shown once), listed and revoked (/api/admin/tokens); the audit trail (/api/admin/audit).
// The forms are not written by hand: each is built from the request body schema of the kind's PUT route
// (the tokens' POST) in the API's own /openapi.json, so they ask for exactly what the API validates;
// the API's 422 answers are shown next to the fields they name. Secrets (writeOnly in the schema) are
// password inputs, never filled in: an edit must type them again. A token without the admin scope sees
// the lists only (the API refuses its writes anyway).
"use strict";

const $ = (id) => document.getElementById(id);
const KINDS = [
  { path: "dialplans", label: "Dialplans", columns: ["pattern", "action", "priority", "language"] },
  { path: "users", label: "SIP users", columns: ["username", "realm", "enabled"] },
  { path: "trunks", label: "Trunks", columns: ["name", "sources", "enabled"] },
  { path: "knowledge", label: "Knowledge", columns: ["title", "phrasings", "answer"] },
  { path: "prompts", label: "Prompts", columns: ["kind", "language", "text"] },
  { path: "actions", label: "Actions", columns: ["name", "triggers", "url", "enabled"] },
  { path: "webhooks", label: "Webhooks", columns: ["url", "event_types", "enabled"] },
];
// Admin only: contacts are personal data (names, numbers, profiles), so even their list needs the admin
// scope (the API's /api/admin/contacts GETs do).
const CONTACTS = { path: "contacts", label: "Contacts", columns: ["name", "numbers", "language", "enabled"] };
// Admin only: API tokens are issued by POST (the id is drawn by the API, the token shown once) and
// revoked by DELETE; never edited.
const TOKENS = { path: "tokens", label: "Tokens", columns: ["name", "tenant", "scopes", "expires_at", "revoked"], issued: true };
// Platform admins only: the businesses the platform serves (the tenants issue).
const TENANTS = { path: "tenants", label: "Tenants", columns: ["name", "domains", "language", "enabled"] };
const AUDIT = { path: "audit", label: "Audit", columns: ["at", "by", "action", "kind", "id"] };
const ENTITY_ID = /^[A-Za-z0-9._@+-]{1,128}$/; // the API's path pattern for ids
let openapi = null;
let canWrite = false;
let current = KINDS[0];
let editing = null; // the id being edited, or null for a new record

function text(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
async function api(url, options) {
  const response = await session.fetch(url, options); // 401: off to the sign-in page
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  return { status: response.status, ok: response.ok, body };
}

// --- the schema: one field descriptor per property of a PUT body ---

function deref(schema) {
  if (schema && schema.$ref) return openapi.components.schemas[schema.$ref.split("/").pop()];
  return schema;
}
function bodySchema(kind) {
  const route = kind.issued ? openapi.paths["/api/admin/" + kind.path].post : openapi.paths["/api/admin/" + kind.path + "/{entity_id}"].put;
  return deref(route.requestBody.content["application/json"].schema);
}
// {name, label, hint, control, nullable, required, secret, options, schema} from a property schema.
function describe(name, property, required) {
  const options = (property.anyOf || [property]).map(deref);
  const nullable = options.some((o) => o.type === "null");
  const schema = options.find((o) => o.type !== "null") || {};
  const items = schema.items ? deref(schema.items) : null;
  let control = "text";
  let hint = property.description || "";
  if (schema.enum) control = "select";
  else if (schema.type === "boolean") control = "checkbox";
  else if (schema.type === "integer" || schema.type === "number") control = "number";
  else if (schema.type === "array" && items && items.enum) control = "multiselect";
  else if (schema.type === "array") control = "lines";
  else if (schema.type === "object") control = "json";
  else if (schema.format === "date-time") hint = "ISO 8601 with a zone, e.g. 2027-01-01T00:00:00Z";
  else if (schema.maxLength > 500) control = "textarea";
  const secret = Boolean(property.writeOnly || schema.writeOnly);
  if (control === "lines") hint = (hint ? hint + " — " : "") + "one per line";
  if (secret) hint = "write-only: never shown; type it to set it" + (hint ? " — " + hint : "");
  return {
    name, label: property.title || name, hint, control, nullable, required, secret, schema,
    options: control === "multiselect" ? items.enum : schema.enum || [], default: property.default,
  };
}
function fieldsOf(kind) {
  const schema = bodySchema(kind);
  const required = new Set(schema.required || []);
  return Object.entries(schema.properties).map(([name, p]) => describe(name, p, required.has(name)));
}

// --- the form ---

function control(field, value) {
  let el;
  if (field.control === "select" || field.control === "multiselect") {
    el = document.createElement("select");
    el.multiple = field.control === "multiselect";
    if (!el.multiple && (field.nullable || !field.required)) el.add(new Option("—", ""));
    for (const option of field.options) el.add(new Option(option, option));
    const chosen = new Set(Array.isArray(value) ? value : [value ?? field.default ?? ""].map(String));
    for (const option of el.options) option.selected = chosen.has(option.value);
  } else if (field.control === "checkbox") {
    el = document.createElement("input");
    el.type = "checkbox";
    el.checked = Boolean(value ?? field.default);
  } else if (["lines", "json", "textarea"].includes(field.control)) {
    el = document.createElement("textarea");
    const v = value ?? field.default;
    el.value = field.control === "lines" ? (v || []).join("\n") : field.control === "json" ? (v ? JSON.stringify(v, null, 2) : "") : text(v);
    if (field.control === "json") el.rows = 8;
  } else {
    el = document.createElement("input");
    el.type = field.secret ? "password" : field.control === "number" ? "number" : "text";
    if (field.control === "number") el.step = field.schema.type === "integer" ? "1" : "any";
    el.autocomplete = field.secret ? "new-password" : "off";
    el.value = field.secret ? "" : text(value ?? field.default);
  }
  el.name = field.name;
  el.id = "f-" + field.name;
  return el;
}
function fieldBox(name, label, hint, el, required) {
  const box = document.createElement("label");
  box.className = "field";
  box.dataset.field = name;
  const title = document.createElement("span");
  title.textContent = label + (required ? " *" : "");
  box.append(title, el);
  if (hint) {
    const small = document.createElement("small");
    small.className = "hint";
    small.textContent = hint;
    box.appendChild(small);
  }
  const error = document.createElement("small");
  error.className = "error";
  error.id = "err-" + name;
  box.appendChild(error);
  return box;
}
function openForm(record) {
  editing = record ? record.id : null;
  $("editor").hidden = false;
  $("layout").className = "grid2";
  $("form-title").textContent = (record ? "Edit " : "New ") + current.label.toLowerCase().replace(/s$/, "") + (record ? " " + record.id : "");
  const boxes = [];
  const id = document.createElement("input");
  id.name = "id"; id.id = "f-id"; id.value = record ? record.id : ""; id.readOnly = Boolean(record);
  if (!current.issued) boxes.push(fieldBox("id", "Id", record ? "" : "letters, digits and . _ @ + -", id, true));
  for (const field of fieldsOf(current)) {
    boxes.push(fieldBox(field.name, field.label, field.hint, control(field, record ? record[field.name] : undefined), field.required));
  }
  $("fields").replaceChildren(...boxes);
  clearErrors();
  $("form-note").textContent = "";
  $("fields").querySelector("input:not([readonly]), select, textarea")?.focus();
}
function closeForm() { $("editor").hidden = true; $("layout").className = ""; editing = null; }
function clearErrors() {
  for (const box of document.querySelectorAll("#fields .field")) box.classList.remove("invalid");
  for (const small of document.querySelectorAll("#fields .error")) small.textContent = "";
  $("form-error").textContent = "";
}
function fieldError(name, message) {
  const small = $("err-" + name);
  if (!small) return false;
  small.textContent = small.textContent ? small.textContent + "; " + message : message;
  small.parentElement.classList.add("invalid");
  return true;
}
// The body to PUT: empty optional fields are left out (the API's default applies) or null (nullable).
function collect() {
  const body = {};
  for (const field of fieldsOf(current)) {
    const el = $("f-" + field.name);
    let value;
    if (field.control === "checkbox") value = el.checked;
    else if (field.control === "multiselect") value = [...el.selectedOptions].map((o) => o.value);
    else if (field.control === "lines") value = el.value.split("\n").map((s) => s.trim()).filter(Boolean);
    else value = el.value.trim() === "" ? "" : el.value;
    const empty = value === "" || (Array.isArray(value) && value.length === 0);
    if (empty && field.nullable) value = null;
    else if (empty && !field.required) continue;
    else if (field.control === "number" && value !== "") value = Number.isFinite(Number(value)) ? Number(value) : value;
    else if (field.control === "json" && value !== "") {
      try { value = JSON.parse(value); } catch (err) { throw { field: field.name, message: "not JSON: " + err.message }; }
    }
    body[field.name] = value;
  }
  return body;
}
// A 422: pydantic's list ({loc: ["body", field, …], msg}) or the API's own detail ({url, reason}).
function showErrors(answer) {
  const detail = answer.body ? answer.body.detail : null;
  const loose = [];
  if (Array.isArray(detail)) {
    for (const e of detail) {
      const loc = e.loc || [];
      const name = loc[0] === "path" ? "id" : loc[1];
      const where = loc.length > 2 ? " (" + loc.slice(2).join(".") + ")" : "";
      if (!(name !== undefined && fieldError(String(name), e.msg + where))) loose.push(e.msg);
    }
  } else if (detail && typeof detail === "object") {
    const named = Object.keys(detail).find((k) => $("err-" + k));
    if (named && detail.reason) fieldError(named, detail.reason);
    else loose.push(JSON.stringify(detail));
  } else if (detail) loose.push(String(detail));
  const message = answer.body && answer.body.error ? answer.body.error : "HTTP " + answer.status;
  $("form-error").textContent = message + (loose.length ? ": " + loose.join("; ") : "");
}
async function save(event) {
  event.preventDefault();
  clearErrors();
  const id = current.issued ? "" : $("f-id").value.trim();
  if (!current.issued && !ENTITY_ID.test(id)) { fieldError("id", "letters, digits and . _ @ + - only, 1 to 128"); return; }
  let body;
  try { body = collect(); } catch (err) { fieldError(err.field, err.message); return; }
  $("save").disabled = true;
  try {
    const url = "/api/admin/" + current.path + (current.issued ? "" : "/" + encodeURIComponent(id));
    const answer = await api(url, {
      method: current.issued ? "POST" : "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    if (!answer.ok) { showErrors(answer); return; }
    closeForm();
    $("list-note").textContent = current.issued ? "issued " + answer.body.id + " — copy the token now, it is not shown again: " : "saved " + id;
    if (current.issued) {
      const token = document.createElement("code");
      token.id = "issued-token";
      token.textContent = answer.body.token;
      $("list-note").appendChild(token);
    }
    await loadList();
  } finally {
    $("save").disabled = false;
  }
}
async function remove(record) {
  const verb = current.issued ? "Revoke" : "Delete";
  if (!confirm(verb + " " + current.label.toLowerCase().replace(/s$/, "") + " " + record.id + "?")) return;
  const answer = await api("/api/admin/" + current.path + "/" + encodeURIComponent(record.id), { method: "DELETE" });
  $("list-note").textContent = answer.ok ? verb.toLowerCase() + "d " + record.id : "delete failed: " + text(answer.body && answer.body.error);
  if (editing === record.id) closeForm();
  await loadList();
}

// --- the lists ---

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label;
  b.addEventListener("click", (e) => { e.stopPropagation(); onClick(); });
  return b;
}
async function loadList() {
  const kind = current;
  const audit = kind === AUDIT;
  $("list-title").textContent = kind.label;
  $("new").hidden = audit || !canWrite;
  const columns = audit ? kind.columns : ["id", ...kind.columns];
  const head = document.createElement("tr");
  for (const c of [...columns, ...(canWrite && !audit ? [""] : [])]) {
    const th = document.createElement("th"); th.textContent = c; head.appendChild(th);
  }
  $("records").tHead.replaceChildren(head);
  const answer = await api("/api/admin/" + kind.path);
  if (kind !== current) return; // another tab was picked meanwhile
  const rows = answer.ok ? answer.body : [];
  if (!answer.ok) $("list-note").textContent = "HTTP " + answer.status + ": " + text(answer.body && answer.body.error);
  const body = $("records").tBodies[0];
  body.replaceChildren();
  for (const record of rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = audit ? record.offset : record.id;
    for (const c of columns) {
      const td = document.createElement("td");
      td.className = c === "answer" || c === "text" || c === "phrasings" ? "wrap" : "";
      td.textContent = c === "at" ? new Date(record.at).toLocaleString() : text(record[c]) || (c === "by" ? "—" : "");
      tr.appendChild(td);
    }
    if (canWrite && !audit) {
      const td = document.createElement("td");
      if (current.issued) td.append(record.revoked ? "" : button("Revoke", () => remove(record)));
      else td.append(button("Edit", () => openForm(record)), " ", button("Delete", () => remove(record)));
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  $("list-count").textContent = String(rows.length);
  $("records-empty").hidden = rows.length > 0;
}
function pick(kind) {
  current = kind;
  closeForm();
  $("list-note").textContent = "";
  for (const b of $("tabs").children) b.classList.toggle("active", b.dataset.kind === kind.path);
  history.replaceState(null, "", "#" + kind.path);
  loadList();
}

async function start() {
  const [me, doc] = await Promise.all([api("/api/web/session"), api("/openapi.json")]);
  openapi = doc.body;
  const platform = me.ok && me.body.platform;
  canWrite = me.ok && (platform || me.body.scopes.includes("admin"));
  const where = me.ok ? (me.body.acting_tenant === null ? "every tenant" : "tenant " + me.body.acting_tenant) : "";
  $("mode").textContent = (canWrite ? "admin: changes go to the config topic" : "read-only: the admin scope is needed to change") + " — " + where;
  const tabs = canWrite ? [...KINDS, CONTACTS, TOKENS, AUDIT, ...(platform ? [TENANTS] : [])] : KINDS;
  for (const kind of tabs) {
    const b = button(kind.label, () => pick(kind));
    b.dataset.kind = kind.path;
    b.id = "tab-" + kind.path;
    $("tabs").appendChild(b);
  }
  $("new").addEventListener("click", () => openForm(null));
  $("cancel").addEventListener("click", closeForm);
  $("form").addEventListener("submit", save);
  pick(tabs.find((k) => "#" + k.path === location.hash) || KINDS[0]);
}
document.addEventListener("DOMContentLoaded", start);
