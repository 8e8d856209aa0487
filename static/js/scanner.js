/* The business scanner (/scan).
 *
 * Nothing is sent straight from a form: it is first written to a queue in IndexedDB with a
 * client_event_id and event time made when it was taken, and a sender posts the queue, oldest
 * first.  Each queued item carries the endpoint it goes to and the JSON body it sends, so one
 * queue holds every kind the page makes: a scan of goods (POST /api/v1/scans, the form below),
 * and an elevator check-in and maintenance record (static/js/maintenance-form.js, which adds
 * its items through window.AnlianScanner).  The server records each client_event_id once and
 * answers a repeat with the original entry, so an item whose answer was lost is simply sent again.
 *
 * Each queued item is in one of three states:
 *   queued   - not yet recorded; sent on the next try
 *   sent     - recorded; the ledger seq is shown (a 200 replay counts as sent)
 *   refused  - the server said no (a 4xx problem); the reason stays visible and it is not retried
 *              unless the person presses "send again"
 * Network errors, 408, 429 and 5xx leave an item queued: the sender stops (later items may depend
 * on it, a receipt before a shipment) and tries again on the browser's online event, when the
 * page becomes visible, on "send now", and on a timer that backs off from 5 s to 2 minutes.
 * An item may name another in `after` (a maintenance record its check-in): it is not sent until
 * that one is recorded, and waits, queued, while that one is refused.
 * A 401 or a failed CSRF check means the login has ended: sending pauses until the page is
 * loaded again after logging in, and nothing is lost.
 */
(() => {
  "use strict";

  const root = document.getElementById("scanner");
  if (!root) {
    return;
  }

  const CSRF_TOKEN = root.dataset.csrfToken;
  const OWNER = root.dataset.owner;
  const DEVICE = "anlian-web-scanner";
  const CSRF_PROBLEM = "urn:anlian:problem:csrf";
  const RETRY_FIRST_MS = 5000;
  const RETRY_MOST_MS = 120000;
  const SEND_TIMEOUT_MS = 30000; // a request stuck on a bad network must not hold up the queue
  const KEEP_SENT = 50; // sent items kept for the list; the ledger is the record

  const $ = (id) => document.getElementById(id);
  const queueList = $("queue");
  let announcer = $("scanner-status") || $("visit-status"); // where the sender's news is said

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
  function plainText(key, values) {
    return text(key, values).textContent.trim();
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

  // -- Shared by every kind of item -------------------------------------------------------------

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

  /**
   * Puts a new item on the queue and starts sending.  `item` has id (its client_event_id),
   * kind, endpoint, body, created (ms) and time (the event time shown in the list); it may have
   * `after` and `holdUntil` (see pruneSent).  Rejects when the device cannot store it, so the
   * form keeps what was typed.
   */
  async function enqueue(item, statusElement) {
    await store.put({ state: "queued", attempts: 0, ...item });
    if (statusElement) {
      announcer = statusElement;
    }
    await render();
    flush();
  }

  // -- Scans of goods ---------------------------------------------------------------------------

  function goodsForm(form) {
    const endpoint = form.dataset.endpoint;
    const codeInput = $("scan-code");
    const quantityInput = $("scan-quantity");
    const temperatureInput = $("scan-temperature");
    const submitButton = $("scan-submit");
    const status = $("scanner-status");

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
      const body = scanBody(id, moment);
      return { id, kind: "scan", endpoint, body, created: moment.getTime(), time: body.event_time };
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
        await enqueue(newScan(), status);
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
    }

    form.addEventListener("submit", onSubmit);
    for (const radio of form.querySelectorAll('input[name="action"]')) {
      radio.addEventListener("change", showActionFields);
    }
    quantityInput.addEventListener("input", () => quantityInput.setCustomValidity(""));
    attachCamera({
      toggle: $("camera-toggle"),
      box: $("camera"),
      video: $("camera-video"),
      status: $("camera-status"),
      read: (code) => {
        codeInput.value = code;
        codeInput.focus();
      },
    });
    showActionFields();
    form.dataset.ready = "true";
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

  /** What an answer means for the item: sent, refused, retry later, or log in again. */
  async function outcome(response) {
    const type = response.headers.get("Content-Type") || "";
    const body = type.includes("json") ? await readJson(response) : null;
    if (response.ok) {
      if (body && Number.isInteger(body.seq)) {
        const hazards = Array.isArray(body.hazards) ? body.hazards.length : null;
        return { kind: "sent", seq: body.seq, replayed: body.replayed === true, hazards };
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

  /** Items queued before they carried their endpoint were all scans of goods. */
  function endpointOf(item) {
    if (item.endpoint) {
      return item.endpoint;
    }
    const form = $("scan-form");
    return form ? form.dataset.endpoint : "/api/v1/scans";
  }

  async function post(item) {
    let response;
    try {
      response = await fetch(endpointOf(item), {
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
        return {
          ...item, state: "sent", attempts, seq: result.seq, replayed: result.replayed, hazards: result.hazards,
          sentAt: Date.now(),
        };
      case "refused":
        return { ...item, state: "refused", attempts, status: result.status, detail: result.detail };
      case "retry":
        return { ...item, attempts, lastError: result.reason };
      default:
        return item; // login: the try did not count against the item
    }
  }

  /** Whether the item waits for one it names in `after` that is on the device and not recorded
   * yet.  One no longer on the device was recorded long ago, or removed by the person: then the
   * server judges the item on its own. */
  function waiting(item, byId) {
    const before = item.after ? byId.get(item.after) : null;
    return Boolean(before) && before.state !== "sent";
  }

  /** Sends every queued item, oldest first; returns why it stopped and how many were recorded. */
  async function sendQueued() {
    const all = await store.all();
    const byId = new Map(all.map((item) => [item.id, item]));
    const queued = all.filter((item) => item.state === "queued");
    queued.sort((a, b) => a.created - b.created);
    const counts = { sent: 0, refused: 0 };
    for (const item of queued) {
      if (waiting(item, byId)) {
        continue; // what it waits for came earlier in this run and was refused
      }
      sendingId = item.id;
      await render();
      const result = await post(item);
      sendingId = null;
      const next = updated(item, result);
      await store.put(next);
      byId.set(item.id, next);
      if (result.kind !== "sent" && result.kind !== "refused") {
        return { ...result, ...counts };
      }
      counts[result.kind] += 1;
    }
    return { kind: "done", ...counts };
  }

  /** One message per run: a refusal matters more than the items that went through. */
  function announce(sent, refused) {
    if (!announcer) {
      return;
    }
    if (refused > 0) {
      say(announcer, "refused-announce");
    } else if (sent > 0) {
      say(announcer, "sent-announce", { n: sent });
    }
  }

  async function flush() {
    if (paused) {
      return;
    }
    if (flushing) {
      flushAgain = true; // an item queued while sending is picked up by this run
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

  /** Keeps the newest sent items.  An item with `holdUntil` (a check-in, which the record at
   * check-out will name in `after`) stays until something names it or its time is up, so that a
   * busy morning of scans cannot make the device forget an open visit. */
  async function pruneSent() {
    const all = await store.all();
    const named = new Set(all.map((item) => item.after).filter(Boolean));
    const held = (item) => item.holdUntil > Date.now() && !named.has(item.id);
    const sent = all.filter((item) => item.state === "sent" && !held(item));
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
      flush(); // an item that waited for this one is now judged by the server on its own
    }
  }

  // -- The list ---------------------------------------------------------------------------------

  let renderGeneration = 0;
  const listeners = [];

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

  /** The lines saying what the item is: the action and amounts, and the code it is about. */
  function whatLines(item) {
    const body = item.body;
    if (item.kind === "check-in") {
      return [element("p", "scan-what", text("kind-check-in")), element("p", "scan-code code", item.code)];
    }
    if (item.kind === "maintenance") {
      const tier = plainText(`tier-${body.tier}`);
      const what = element("p", "scan-what", text("kind-maintenance", { tier }), " · ",
        text("answered", { n: body.items.length }));
      if (body.faults.length > 0) {
        what.append(" · ", text("faults", { n: body.faults.length }));
      }
      const lines = [what, element("p", "scan-code code", item.code)];
      if (item.state === "sent" && item.hazards) {
        lines.push(element("p", "scan-note scan-hazards", text("hazards-opened", { n: item.hazards })));
      }
      return lines;
    }
    const what = element("p", "scan-what", text(`action-${body.action}`), ` ${body.quantity} ${body.unit}`);
    if (body.temperature_c !== undefined) {
      what.append(` · ${body.temperature_c} °C`);
    }
    return [what, element("p", "scan-code code", body.code)];
  }

  function itemNode(item, byId) {
    const node = element("li", "scan-item", ...whatLines(item), stateLine(item));
    node.dataset.id = item.id;
    node.dataset.state = item.state;
    node.dataset.kind = item.kind || "scan";
    if (item.state === "sent") {
      node.dataset.seq = String(item.seq);
    }
    if (item.state === "queued" && waiting(item, byId)) {
      node.dataset.waiting = "true";
      node.append(element("p", "scan-note", text("waits-check-in")));
    } else if (item.state === "queued" && item.lastError && item.id !== sendingId) {
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
    time.dateTime = item.time || item.body.event_time;
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
    const byId = new Map(items.map((item) => [item.id, item]));
    items.sort((a, b) => b.created - a.created);
    const focused = queueList.contains(document.activeElement) ? document.activeElement.dataset : null;
    queueList.replaceChildren(...items.map((item) => itemNode(item, byId)));
    if (focused && focused.id) {
      const again = queueList.querySelector(`button[data-id="${focused.id}"][data-role="${focused.role}"]`);
      (again || $("queue-heading")).focus();
    }
    const count = (state) => items.filter((item) => item.state === state).length;
    say($("queue-summary"), "summary", { queued: count("queued"), refused: count("refused") });
    const sendable = items.some((item) => item.state === "queued" && !waiting(item, byId));
    $("send-now").hidden = !sendable;
    $("queue-empty").hidden = items.length > 0;
    for (const listener of listeners) {
      listener(items);
    }
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

  const cameras = [];

  /** A camera button that fills in the code it reads; only one camera runs at a time. */
  function attachCamera({ toggle, box, video, status, read }) {
    const camera = window.QrCamera.attach(video, {
      status: (key) => say(status, key),
      shown: (shown) => {
        box.hidden = !shown;
        toggle.setAttribute("aria-expanded", String(shown));
        toggle.replaceChildren(text(shown ? "camera-stop" : "camera-start"));
      },
      read,
    });
    cameras.push(camera);
    toggle.addEventListener("click", () => {
      if (camera.running()) {
        camera.stop();
        return;
      }
      for (const other of cameras) {
        if (other !== camera && other.running()) {
          other.stop();
        }
      }
      camera.start();
    });
    return camera;
  }

  // -- Start ------------------------------------------------------------------------------------

  async function start() {
    await openStore();
    queueList.addEventListener("click", onListClick);
    $("send-now").addEventListener("click", retryNow);
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
    const form = $("scan-form");
    if (form) {
      goodsForm(form);
    }
    showConnection();
    await render();
  }

  const ready = start();

  /** What maintenance-form.js uses: the same queue, texts and camera as the scans of goods. */
  window.AnlianScanner = {
    ready,
    text,
    plainText,
    say,
    newId,
    localTime,
    enqueue,
    items: () => store.all(),
    onChange: (listener) => void listeners.push(listener),
    attachCamera,
    showStorageFailed,
  };

  ready.then(() => flush()); // whatever an earlier visit left queued
})();
