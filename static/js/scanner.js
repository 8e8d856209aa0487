/* The business scanner (/scan).
 *
 * A scan is never sent straight from the form: it is first written to a queue in IndexedDB with
 * a client_event_id and event time made when it was taken, and a sender posts the queue, oldest
 * first, to /api/v1/scans.  The server records each client_event_id once and answers a repeat
 * with the original entry, so a scan whose answer was lost is simply sent again.
 *
 * Each queued scan is in one of three states:
 *   queued   - not yet recorded; sent on the next try
 *   sent     - recorded; the ledger seq is shown (a 200 replay counts as sent)
 *   refused  - the server said no (a 4xx problem); the reason stays visible and it is not retried
 *              unless the person presses "send again"
 * Network errors, 408, 429 and 5xx leave a scan queued: the sender stops (later scans may depend
 * on it, a receipt before a shipment) and tries again on the browser's online event, when the
 * page becomes visible, on "send now", and on a timer that backs off from 5 s to 2 minutes.
 * A 401 or a failed CSRF check means the login has ended: sending pauses until the page is
 * loaded again after logging in, and nothing is lost.
 */
(() => {
  "use strict";

  const form = document.getElementById("scan-form");
  if (!form) {
    return;
  }

  const ENDPOINT = form.dataset.endpoint;
  const CSRF_TOKEN = form.dataset.csrfToken;
  const OWNER = form.dataset.owner;
  const DEVICE = "anlian-web-scanner";
  const CSRF_PROBLEM = "urn:anlian:problem:csrf";
  const RETRY_FIRST_MS = 5000;
  const RETRY_MOST_MS = 120000;
  const SEND_TIMEOUT_MS = 30000; // a request stuck on a bad network must not hold up the queue
  const KEEP_SENT = 50; // sent scans kept for the list; the ledger is the record

  const $ = (id) => document.getElementById(id);
  const codeInput = $("scan-code");
  const quantityInput = $("scan-quantity");
  const temperatureInput = $("scan-temperature");
  const submitButton = $("scan-submit");
  const status = $("scanner-status");
  const queueList = $("queue");

  // -- Texts ------------------------------------------------------------------------------------

  /** A copy of the text rendered by the page under `key`, with {name} filled in. */
  function text(key, values = {}) {
    const copy = document.createElement("span");
    const source = document.querySelector(`#scanner-texts [data-text="${key}"]`);
    if (!source) {
      copy.textContent = key;
      return copy;
    }
    copy.append(...Array.from(source.cloneNode(true).childNodes));
    const walker = document.createTreeWalker(copy, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      node.nodeValue = node.nodeValue.replace(/\{(\w+)\}/g, (whole, name) =>
        name in values ? String(values[name]) : whole,
      );
    }
    return copy;
  }

  /** A text as a plain string, for places that take one (validity messages). */
  function plainText(key) {
    return text(key).textContent.trim();
  }

  function say(element, key, values) {
    element.replaceChildren(text(key, values));
  }

  // -- Storage ----------------------------------------------------------------------------------

  /** The queue in IndexedDB, one database per logged-in person: a shared phone must never send
   * one person's scans under the next person's login. */
  function indexedStore() {
    const opened = new Promise((resolve, reject) => {
      const request = indexedDB.open(`anlian-scanner-${OWNER}`, 1);
      request.onupgradeneeded = () => request.result.createObjectStore("scans", { keyPath: "id" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    function run(mode, work) {
      return opened.then(
        (db) =>
          new Promise((resolve, reject) => {
            // "strict" waits until the write is on disk: a scan must survive the phone dying.
            const transaction = db.transaction("scans", mode, { durability: "strict" });
            const request = work(transaction.objectStore("scans"));
            transaction.oncomplete = () => resolve(request.result);
            transaction.onerror = () => reject(transaction.error);
            transaction.onabort = () => reject(transaction.error);
          }),
      );
    }
    return {
      ready: opened,
      all: () => run("readonly", (scans) => scans.getAll()),
      put: (item) => run("readwrite", (scans) => scans.put(item)),
      remove: (id) => run("readwrite", (scans) => scans.delete(id)),
    };
  }

  /** Where IndexedDB is refused (some private modes) scans are still queued, for this page's life. */
  function memoryStore() {
    const items = new Map();
    return {
      ready: Promise.resolve(),
      all: async () => Array.from(items.values(), (item) => structuredClone(item)),
      put: async (item) => void items.set(item.id, structuredClone(item)),
      remove: async (id) => void items.delete(id),
    };
  }

  let store = memoryStore();

  async function openStore() {
    try {
      const indexed = indexedStore();
      await indexed.ready;
      store = indexed;
    } catch (error) {
      showStorageFailed();
    }
  }

  function showStorageFailed() {
    const warning = $("storage-failed");
    say(warning, "storage-failed");
    warning.hidden = false;
  }

  // -- Making a scan ----------------------------------------------------------------------------

  function newId() {
    if (typeof crypto.randomUUID === "function") {
      return crypto.randomUUID();
    }
    // randomUUID exists only on HTTPS and localhost; a version 4 UUID from getRandomValues is as good.
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** RFC 3339 in the device's own offset, which the ledger keeps as the event's local time. */
  function localTime(moment) {
    const pad = (number) => String(number).padStart(2, "0");
    const offset = -moment.getTimezoneOffset();
    const sign = offset < 0 ? "-" : "+";
    const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
    const date = `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}`;
    return `${date}T${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}${zone}`;
  }

  function selectedAction() {
    return form.elements.action.value;
  }

  function scanBody(id, moment) {
    const action = selectedAction();
    const body = {
      client_event_id: id,
      action,
      code: codeInput.value.trim(),
      quantity: Number(quantityInput.value),
      unit: $("scan-unit").value.trim(),
      event_time: localTime(moment),
      device: DEVICE,
    };
    if (temperatureInput.value.trim() !== "") {
      body.temperature_c = Number(temperatureInput.value);
    }
    if (action === "ship") {
      body.to_org_id = $("scan-to-org").value.trim();
    }
    if (action === "dispose") {
      body.reason = $("scan-reason").value.trim();
    }
    return body;
  }

  function newScan() {
    const moment = new Date();
    const id = newId();
    return { id, body: scanBody(id, moment), state: "queued", created: moment.getTime(), attempts: 0 };
  }

  /** The ship and dispose fields are shown, enabled and required only for their action. */
  function showActionFields() {
    const action = selectedAction();
    for (const field of form.querySelectorAll("[data-for-action]")) {
      const chosen = field.dataset.forAction === action;
      field.hidden = !chosen;
      for (const input of field.querySelectorAll("input")) {
        input.disabled = !chosen;
        input.required = chosen;
      }
    }
  }

  function checkQuantity() {
    const quantity = Number(quantityInput.value);
    quantityInput.setCustomValidity(quantity > 0 ? "" : plainText("quantity-positive"));
  }

  async function onSubmit(event) {
    event.preventDefault();
    checkQuantity();
    if (!form.reportValidity()) {
      return;
    }
    submitButton.disabled = true; // a double tap must not make two scans
    try {
      await store.put(newScan());
    } catch (error) {
      showStorageFailed(); // the form keeps what was typed, to try again
      return;
    } finally {
      submitButton.disabled = false;
    }
    codeInput.value = "";
    temperatureInput.value = "";
    say(status, "saved");
    codeInput.focus();
    await render();
    flush();
  }

  // -- Sending ----------------------------------------------------------------------------------

  let flushing = false;
  let flushAgain = false;
  let paused = false;
  let sendingId = null;
  let retryTimer = null;
  let retryDelay = RETRY_FIRST_MS;

  async function readJson(response) {
    try {
      return await response.json();
    } catch (error) {
      return null;
    }
  }

  function retryAfterMs(response) {
    const seconds = Number(response.headers.get("Retry-After"));
    return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 0;
  }

  /** What an answer means for the scan: sent, refused, retry later, or log in again. */
  async function outcome(response) {
    const type = response.headers.get("Content-Type") || "";
    const body = type.includes("json") ? await readJson(response) : null;
    if (response.ok) {
      if (body && Number.isInteger(body.seq)) {
        return { kind: "sent", seq: body.seq, replayed: body.replayed === true };
      }
      return { kind: "retry", reason: "answer" }; // not our API's answer: a captive portal, say
    }
    if (response.status === 401 || (body && body.type === CSRF_PROBLEM)) {
      return { kind: "login" };
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      return { kind: "retry", reason: String(response.status), after: retryAfterMs(response) };
    }
    if (type.startsWith("application/problem+json") && body) {
      return { kind: "refused", status: response.status, detail: body.detail || body.title || "" };
    }
    return { kind: "retry", reason: String(response.status) }; // a 4xx from something in between
  }

  function timeoutSignal() {
    if (typeof AbortSignal.timeout === "function") {
      return AbortSignal.timeout(SEND_TIMEOUT_MS);
    }
    const controller = new AbortController();
    setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
    return controller.signal;
  }

  async function post(item) {
    let response;
    try {
      response = await fetch(ENDPOINT, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json, application/problem+json",
          // The session cookie goes with the request, so the server asks for the CSRF token;
          // Flask-WTF reads it from this header when there is no form field.
          "X-CSRFToken": CSRF_TOKEN,
        },
        body: JSON.stringify(item.body),
        credentials: "same-origin",
        cache: "no-store",
        redirect: "error", // a redirect is a portal or a login page, never a recorded scan
        signal: timeoutSignal(),
      });
    } catch (error) {
      return { kind: "retry", reason: "network" };
    }
    return outcome(response);
  }

  function updated(item, result) {
    const attempts = item.attempts + 1;
    switch (result.kind) {
      case "sent":
        return { ...item, state: "sent", attempts, seq: result.seq, replayed: result.replayed, sentAt: Date.now() };
      case "refused":
        return { ...item, state: "refused", attempts, status: result.status, detail: result.detail };
      case "retry":
        return { ...item, attempts, lastError: result.reason };
      default:
        return item; // login: the try did not count against the scan
    }
  }

  /** Sends every queued scan, oldest first; returns why it stopped and how many were recorded. */
  async function sendQueued() {
    const queued = (await store.all()).filter((item) => item.state === "queued");
    queued.sort((a, b) => a.created - b.created);
    const counts = { sent: 0, refused: 0 };
    for (const item of queued) {
      sendingId = item.id;
      await render();
      const result = await post(item);
      sendingId = null;
      await store.put(updated(item, result));
      if (result.kind !== "sent" && result.kind !== "refused") {
        return { ...result, ...counts };
      }
      counts[result.kind] += 1;
    }
    return { kind: "done", ...counts };
  }

  /** One message per run: a refusal matters more than the scans that went through. */
  function announce(sent, refused) {
    if (refused > 0) {
      say(status, "refused-announce");
    } else if (sent > 0) {
      say(status, "sent-announce", { n: sent });
    }
  }

  async function flush() {
    if (paused) {
      return;
    }
    if (flushing) {
      flushAgain = true; // a scan queued while sending is picked up by this run
      return;
    }
    flushing = true;
    cancelRetry();
    try {
      let result;
      let sent = 0;
      let refused = 0;
      do {
        flushAgain = false;
        result = await sendQueued();
        sent += result.sent;
        refused += result.refused;
      } while (flushAgain && result.kind === "done");
      announce(sent, refused);
      if (result.kind === "retry") {
        scheduleRetry(result.after || 0);
      } else if (result.kind === "login") {
        pause();
      } else {
        retryDelay = RETRY_FIRST_MS;
        await pruneSent();
      }
    } catch (error) {
      scheduleRetry(0);
    } finally {
      sendingId = null;
      flushing = false;
      await render();
    }
  }

  function scheduleRetry(atLeastMs) {
    cancelRetry();
    retryTimer = setTimeout(() => {
      retryTimer = null;
      flush();
    }, Math.max(retryDelay, atLeastMs));
    retryDelay = Math.min(retryDelay * 2, RETRY_MOST_MS);
  }

  function cancelRetry() {
    if (retryTimer !== null) {
      clearTimeout(retryTimer);
      retryTimer = null;
    }
  }

  function pause() {
    paused = true;
    cancelRetry();
    $("login-needed").hidden = false;
  }

  function retryNow() {
    retryDelay = RETRY_FIRST_MS;
    flush();
  }

  async function pruneSent() {
    const sent = (await store.all()).filter((item) => item.state === "sent");
    sent.sort((a, b) => b.created - a.created);
    for (const item of sent.slice(KEEP_SENT)) {
      await store.remove(item.id);
    }
  }

  async function sendAgain(id) {
    const item = (await store.all()).find((scan) => scan.id === id);
    if (item && item.state === "refused") {
      await store.put({ ...item, state: "queued", detail: null, status: null });
      retryNow();
    }
  }

  async function removeScan(id) {
    const item = (await store.all()).find((scan) => scan.id === id);
    if (item && item.state === "refused") {
      await store.remove(id);
      await render();
    }
  }

  // -- The list ---------------------------------------------------------------------------------

  let renderGeneration = 0;

  function element(tag, className, ...children) {
    const node = document.createElement(tag);
    node.className = className;
    node.append(...children);
    return node;
  }

  function itemButton(key, role, id) {
    const button = element("button", "secondary", text(key));
    button.type = "button";
    button.dataset.role = role;
    button.dataset.id = id;
    return button;
  }

  function stateLine(item) {
    const state = item.id === sendingId ? "sending" : item.state;
    const line = element("p", "scan-state", element("span", `badge badge-${state}`, text(`state-${state}`)));
    if (item.state === "sent") {
      line.append(" ", element("span", "scan-seq", text("seq", { seq: item.seq })));
      if (item.replayed) {
        line.append(" ", element("span", "scan-note", text("replayed")));
      }
    }
    return line;
  }

  function itemNode(item) {
    const body = item.body;
    const what = element("p", "scan-what", text(`action-${body.action}`), ` ${body.quantity} ${body.unit}`);
    if (body.temperature_c !== undefined) {
      what.append(` · ${body.temperature_c} °C`);
    }
    const node = element("li", "scan-item", what, element("p", "scan-code code", body.code), stateLine(item));
    node.dataset.id = item.id;
    node.dataset.state = item.state;
    if (item.state === "sent") {
      node.dataset.seq = String(item.seq);
    }
    if (item.state === "queued" && item.lastError && item.id !== sendingId) {
      const known = ["network", "answer"].includes(item.lastError);
      const note = known ? text(`retry-${item.lastError}`) : text("retry-status", { status: item.lastError });
      node.append(element("p", "scan-note", note));
    }
    if (item.state === "refused") {
      const detail = element("p", "scan-detail", item.detail);
      detail.setAttribute("role", "note");
      node.append(detail, element("p", "scan-buttons", itemButton("send-again", "again", item.id), " ",
        itemButton("remove", "remove", item.id)));
    }
    const time = element("time", "scan-time", new Date(item.created).toLocaleString(document.documentElement.lang));
    time.dateTime = body.event_time;
    node.append(element("p", "scan-when", time));
    return node;
  }

  /** Re-reads the queue and redraws the list, keeping the focus on the same button. */
  async function render() {
    const generation = ++renderGeneration;
    const items = await store.all();
    if (generation !== renderGeneration) {
      return; // a later render has newer data
    }
    items.sort((a, b) => b.created - a.created);
    const focused = queueList.contains(document.activeElement) ? document.activeElement.dataset : null;
    queueList.replaceChildren(...items.map(itemNode));
    if (focused && focused.id) {
      const again = queueList.querySelector(`button[data-id="${focused.id}"][data-role="${focused.role}"]`);
      (again || $("queue-heading")).focus();
    }
    const count = (state) => items.filter((item) => item.state === state).length;
    say($("queue-summary"), "summary", { queued: count("queued"), refused: count("refused") });
    $("send-now").hidden = count("queued") === 0;
    $("queue-empty").hidden = items.length > 0;
  }

  function onListClick(event) {
    const button = event.target.closest("button[data-role]");
    if (!button) {
      return;
    }
    if (button.dataset.role === "again") {
      sendAgain(button.dataset.id);
    } else if (button.dataset.role === "remove") {
      removeScan(button.dataset.id);
    }
  }

  function showConnection() {
    const online = navigator.onLine !== false;
    $("connection").dataset.online = String(online);
    document.querySelector(".connection-online").hidden = !online;
    document.querySelector(".connection-offline").hidden = online;
  }

  // -- Camera (static/js/qr-camera.js) ----------------------------------------------------------

  const cameraToggle = $("camera-toggle");
  const cameraStatus = $("camera-status");
  const camera = window.QrCamera.attach($("camera-video"), {
    status: (key) => say(cameraStatus, key),
    shown: (shown) => {
      $("camera").hidden = !shown;
      cameraToggle.setAttribute("aria-expanded", String(shown));
      cameraToggle.replaceChildren(text(shown ? "camera-stop" : "camera-start"));
    },
    read: (code) => {
      codeInput.value = code;
      codeInput.focus();
    },
  });

  // -- Start ------------------------------------------------------------------------------------

  async function start() {
    await openStore();
    form.addEventListener("submit", onSubmit);
    for (const radio of form.querySelectorAll('input[name="action"]')) {
      radio.addEventListener("change", showActionFields);
    }
    quantityInput.addEventListener("input", () => quantityInput.setCustomValidity(""));
    queueList.addEventListener("click", onListClick);
    $("send-now").addEventListener("click", retryNow);
    cameraToggle.addEventListener("click", () => (camera.running() ? camera.stop() : camera.start()));
    window.addEventListener("online", () => {
      showConnection();
      retryNow();
    });
    window.addEventListener("offline", showConnection);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        retryNow();
      }
    });
    showActionFields();
    showConnection();
    form.dataset.ready = "true";
    await render();
    flush(); // whatever an earlier visit left queued
  }

  start();
})();
