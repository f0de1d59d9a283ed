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
  async show() {
    try {
      const me = await (await session.fetch("/api/web/session")).json();
      const who = document.getElementById("who");
      if (who) who.textContent = me.name + " (" + me.scopes.join(", ") + ")";
    } catch (err) { /* going to the sign-in page */ }
  },
};
document.addEventListener("DOMContentLoaded", () => session.show());
