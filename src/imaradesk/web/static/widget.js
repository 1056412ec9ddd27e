/*
 * The embeddable web chat: <script src="https://DESK/static/widget.js" data-org="SLUG" async>
 * puts a chat launcher on any page. No build step, no dependency, no API that needs a secure
 * context (intranet desks are often plain HTTP). Styles live in a shadow root so that neither
 * the host page's CSS nor ours leaks into the other.
 *
 * Identity is the visitor token of POST /channels/webchat/SLUG/visitors, kept in the host
 * page's localStorage (our cookies would be third-party there, and blocked). A page whose
 * server signed its signed-in customer sets data-user-id and data-user-hash on the tag.
 */
(function () {
  "use strict";
  const script = document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-org]');
  if (!script || !script.dataset.org) return;
  const org = script.dataset.org;
  const desk = new URL(script.src, location.href);
  const base = desk.origin + desk.pathname.replace(/\/static\/widget\.js$/, "");
  const api = base + "/channels/webchat/" + encodeURIComponent(org);
  const storageKey = "imaradesk-token:" + base + ":" + org;
  const POLL_MS = 3000;

  const store = {
    get() { try { return localStorage.getItem(storageKey); } catch (e) { return null; } },
    set(v) { try { localStorage.setItem(storageKey, v); } catch (e) { /* private window */ } },
    drop() { try { localStorage.removeItem(storageKey); } catch (e) { /* private window */ } },
  };

  function randomId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  let token = null;
  let after = 0;

  async function visitorToken() {
    const claim = script.dataset.userId && script.dataset.userHash
      ? JSON.stringify({user_id: script.dataset.userId, user_hash: script.dataset.userHash})
      : null;
    const current = store.get();
    const ask = (withCurrent) => fetch(api + "/visitors", {
      method: "POST",
      headers: Object.assign(claim ? {"Content-Type": "application/json"} : {},
        withCurrent && current ? {"Authorization": "Bearer " + current} : {}),
      body: claim,
    });
    let response = await ask(!claim);
    // Expired, or issued by another desk: start again as a new visitor.
    if (response.status === 401) { store.drop(); response = await ask(false); }
    if (!response.ok) throw new Error("no visitor token (" + response.status + ")");
    token = (await response.json()).token;
    store.set(token);
  }

  function authorised(extra) {
    return Object.assign({"Authorization": "Bearer " + token}, extra || {});
  }

  const host = document.createElement("div");
  host.setAttribute("data-imaradesk-widget", org);
  const root = host.attachShadow({mode: "open"});
  root.innerHTML = `
    <style>
      :host { all: initial; }
      * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
      .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
        background: #0b4f8a; color: #fff; border: 0; border-radius: 24px; padding: 12px 20px;
        font-size: 16px; cursor: pointer; box-shadow: 0 2px 8px rgba(0,0,0,.3); }
      .launcher:focus-visible, button:focus-visible, input:focus-visible {
        outline: 3px solid #f2a900; outline-offset: 2px; }
      .panel { position: fixed; right: 20px; bottom: 80px; z-index: 2147483000;
        width: min(380px, calc(100vw - 40px)); height: min(560px, calc(100vh - 120px));
        display: flex; flex-direction: column; background: #fff; color: #1a1a1a;
        border-radius: 12px; box-shadow: 0 4px 24px rgba(0,0,0,.3); overflow: hidden; }
      .panel[hidden] { display: none; }
      header { display: flex; align-items: center; justify-content: space-between;
        background: #0b4f8a; color: #fff; padding: 10px 14px; }
      h2 { margin: 0; font-size: 16px; font-weight: 600; }
      .close { background: transparent; color: #fff; border: 0; font-size: 22px;
        line-height: 1; cursor: pointer; padding: 4px 8px; }
      .thread { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column;
        gap: 8px; background: #f6f7f9; }
      .bubble { max-width: 85%; padding: 8px 12px; border-radius: 10px; white-space: pre-wrap;
        font-size: 14px; line-height: 1.4; }
      .you { align-self: flex-end; background: #0b4f8a; color: #fff; }
      .assistant, .bot { align-self: flex-start; background: #fff; color: #1a1a1a;
        border: 1px solid #d0d4da; }
      .agent { align-self: flex-start; background: #e8f3e8; color: #1a1a1a;
        border: 1px solid #9cc79c; }
      .source { display: block; font-size: 12px; color: #4a4a4a; margin-top: 4px; }
      .choices { display: flex; flex-direction: column; gap: 6px; align-self: flex-start;
        max-width: 85%; }
      .choice { text-align: left; background: #fff; color: #0b4f8a; border: 1px solid #0b4f8a;
        border-radius: 8px; padding: 6px 10px; font-size: 14px; cursor: pointer; }
      form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #d0d4da; }
      input { flex: 1; font-size: 14px; padding: 8px 10px; border: 1px solid #767676;
        border-radius: 6px; color: #1a1a1a; background: #fff; }
      .send { background: #0b4f8a; color: #fff; border: 0; border-radius: 6px;
        padding: 8px 14px; font-size: 14px; cursor: pointer; }
      .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden;
        clip: rect(0 0 0 0); white-space: nowrap; }
    </style>
    <button class="launcher" type="button" aria-expanded="false" aria-controls="panel"></button>
    <section class="panel" id="panel" role="dialog" aria-labelledby="title" hidden>
      <header><h2 id="title"></h2><button class="close" type="button">&times;</button></header>
      <div class="thread" role="log" aria-live="polite"></div>
      <form>
        <label class="visually-hidden" for="text"></label>
        <input id="text" autocomplete="off" maxlength="4096" required>
        <button class="send" type="submit"></button>
      </form>
    </section>`;
  const $ = (selector) => root.querySelector(selector);
  const launcher = $(".launcher"), panel = $(".panel"), thread = $(".thread");
  const input = $("#text"), closeButton = $(".close");
  let words = {};

  function bubble(text, who, source) {
    const div = document.createElement("div");
    div.className = "bubble " + who;
    div.textContent = text;
    if (source) {
      const s = document.createElement("span");
      s.className = "source";
      s.textContent = words.source + " " + source;
      div.appendChild(s);
    }
    thread.appendChild(div);
    thread.scrollTop = thread.scrollHeight;
  }

  // The desk holds each poll until a person writes (up to 20 s); a desk too busy to hold it,
  // or a failed request, means asking again after a pause.
  async function poll() {
    let again = POLL_MS;
    try {
      const response = await fetch(api + "/messages?" + new URLSearchParams({after, wait: 20}),
        {headers: authorised()});
      if (response.ok) {
        const body = await response.json();
        for (const m of body.messages) {
          after = Math.max(after, m.id);
          bubble(m.text, m.from);
        }
        if (body.waited) again = 100;
      }
    } catch (e) { /* offline or restarting: the next poll tries again */ }
    setTimeout(poll, again);
  }

  let started = null;
  function start() {
    // Once per page: the token, then the conversation so far, then the polls.
    started = started || visitorToken().then(async () => {
      const response = await fetch(api + "/history", {headers: authorised()});
      if (response.ok) {
        for (const m of (await response.json()).messages) {
          after = Math.max(after, m.id);
          bubble(m.text, m.from);
        }
      }
      poll();
    }).catch((error) => {
      // The desk was unreachable: the next open or message tries again from the start.
      started = null;
      throw error;
    });
    return started;
  }

  function open(yes) {
    panel.hidden = !yes;
    launcher.setAttribute("aria-expanded", String(yes));
    if (yes) { start().catch(() => bubble(words.failed, "bot")); input.focus(); }
    else launcher.focus();
  }
  launcher.addEventListener("click", () => open(panel.hidden));
  closeButton.addEventListener("click", () => open(false));
  root.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) open(false);
  });
  // A reply's choices as buttons; choosing one sends its id, as if the visitor had typed it.
  function choices(options) {
    if (!options || !options.length) return;
    const group = document.createElement("div");
    group.className = "choices";
    group.setAttribute("role", "group");
    for (const option of options) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      // A number is part of the label (it is what the visitor could type); a word is not.
      button.textContent = /^[0-9]+$/.test(option.id) ? option.id + ". " + option.title : option.title;
      button.addEventListener("click", () => { group.remove(); say(option.id, button.textContent); });
      group.appendChild(button);
    }
    thread.appendChild(group);
    thread.scrollTop = thread.scrollHeight;
  }

  async function say(text, shown) {
    bubble(shown || text, "you");
    try {
      await start();
      const response = await fetch(api + "/messages", {
        method: "POST",
        headers: authorised({"Content-Type": "application/json"}),
        body: JSON.stringify({text, id: randomId()}),
      });
      if (!response.ok) { bubble(words.failed, "bot"); return; }
      for (const reply of (await response.json()).replies) {
        bubble(reply.text, "bot", reply.sources.length ? reply.sources[0].question : null);
        choices(reply.options);
      }
    } catch (e) { bubble(words.failed, "bot"); }
  }

  $("form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    say(text);
  });

  // The words in the visitor's language (the desk's own catalogs), then the launcher appears.
  fetch(api + "/widget").then((r) => r.json()).then((config) => {
    words = config.strings;
    host.lang = config.language;
    launcher.textContent = words.launcher;
    launcher.setAttribute("aria-label", words.open);
    $("#title").textContent = words.title;
    closeButton.setAttribute("aria-label", words.close);
    $("label").textContent = words.message;
    input.placeholder = words.placeholder;
    $(".send").textContent = words.send;
    document.body.appendChild(host);
  }).catch(() => { /* the desk is unreachable: no launcher rather than a broken one */ });
})();
