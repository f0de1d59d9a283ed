// The pages' side of signing in (projections/web/signin.py): the session is an HttpOnly cookie that
// fetch, EventSource, <audio> and the /ws upgrade carry by themselves. When a request answers 401 the
// session has lapsed (expired, or its token revoked): go to the sign-in page, and come back here after.
"use strict";

const session = {
  signIn() {
    const here = location.pathname + location.search + location.hash;
    location.assign("/signin?next=" + encodeURIComponent(here));
  },
  // fetch() that goes to the sign-in page on 401.
  async fetch(url, options) {
    const response = await fetch(url, options);
    if (response.status === 401) {
      session.signIn();
      throw new Error("signed out");
    }
    return response;
  },
  // After a failure that hides its status (EventSource, <audio>, a refused WebSocket upgrade): true
  // while the session is good, else off to the sign-in page.
  async check() {
    try {
      const response = await session.fetch("/api/web/session");
      return response.ok;
    } catch (err) {
      return false;
    }
  },
  // The signed-in principal (name, scopes, tenant) in the header, and the tenant the page shows: a
  // tenant's token sees its own tenant only; a platform admin picks one (or all) with the tenant picker,
  // which the API reads from the sentiric_tenant cookie (projections/api/tenancy.py).
  async show() {
    try {
      const me = await (await session.fetch("/api/web/session")).json();
      session.me = me;
      const who = document.getElementById("who");
      if (who) who.textContent = me.name + " (" + me.scopes.join(", ") + ")";
      const header = document.querySelector("header h1");
      if (!header) return;
      const tenant = document.createElement("span");
      tenant.id = "tenant";
      tenant.className = "pill";
      tenant.title = "the tenant this page shows";
      tenant.textContent = me.acting_tenant === null ? "all tenants" : "tenant: " + me.acting_tenant;
      header.after(tenant);
      if (me.platform) tenant.after(await session.picker(me.acting_tenant));
    } catch (err) { /* going to the sign-in page */ }
  },
  async picker(acting) {
    const select = document.createElement("select");
    select.id = "tenant-pick";
    select.setAttribute("aria-label", "act in tenant");
    select.add(new Option("all tenants", ""));
    const listed = await (await session.fetch("/api/admin/tenants")).json().catch(() => []);
    const ids = new Set(["default", ...(Array.isArray(listed) ? listed.map((t) => t.id) : [])]);
    if (acting) ids.add(acting);
    for (const id of [...ids].sort()) select.add(new Option(id, id));
    select.value = acting || "";
    select.addEventListener("change", () => {
      const value = select.value;
      document.cookie = "sentiric_tenant=" + (value ? encodeURIComponent(value) : "; max-age=0") + "; path=/; samesite=strict";
      location.reload();
    });
    return select;
  },
};
document.addEventListener("DOMContentLoaded", () => session.show());
