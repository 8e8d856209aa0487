/* Elevator maintenance on the scanner page (/scan), for staff of a maintenance company.
 *
 * "Check in" queues POST /api/v1/equipment/<code>/check-in with the time taken on the phone
 * when the unit's QR code was read.  "Check out" shows the TSG T5002 checklist of the chosen
 * tier (the page carries every tier, so it works without network), the technicians and, for
 * each fault or replaced part, what the record must say about it; "Record the visit" queues
 * POST /api/v1/equipment/<code>/maintenance with check_in = this unit's check-in on this device
 * (or the time typed when it was made elsewhere) and check_out = now.
 *
 * Both go on the scanner's one queue (static/js/scanner.js, window.AnlianScanner), which sends
 * them in order and shows their state.  A record names its check-in in `after`, so it is never
 * sent before the check-in is recorded: the server refuses a record without a check-in.
 */
(() => {
  "use strict";

  const form = document.getElementById("visit-form");
  const scanner = window.AnlianScanner;
  if (!form || !scanner) {
    return;
  }

  const { text, plainText, say } = scanner;
  const $ = (id) => document.getElementById(id);
  const CHECK_IN_ENDPOINT = form.dataset.checkInEndpoint;
  const RECORD_ENDPOINT = form.dataset.recordEndpoint;
  const CODE = new RegExp(form.dataset.codePattern);
  const LINK = new RegExp(form.dataset.linkPattern);
  const TIERS = form.dataset.tiers.split(" ");
  const MIN_TECHNICIANS = Number(form.dataset.minTechnicians);
  const MAX_VISIT_HOURS = Number(form.dataset.maxVisitHours);
  const MAX_VISIT_MS = MAX_VISIT_HOURS * 3600 * 1000;
  const TECHNICIANS_KEY = `anlian-technicians-${$("scanner").dataset.owner}`;

  const codeInput = $("visit-code");
  const submitButton = $("visit-submit");
  const status = $("visit-status");
  const checkOut = $("visit-check-out");
  const checkInField = $("visit-check-in-field");
  const checkInInput = $("visit-check-in-time");
  const checkedInLine = $("visit-checked-in");
  const technicianList = $("technicians");
  let queueItems = []; // the queue as last drawn: where this device's check-ins are found
  let serial = 0; // numbers the ids of technician rows, which come and go

  // -- The unit ---------------------------------------------------------------------------------

  /** The unit's code from what was read or typed: the link in its QR code, its equipment code or
   * its 96333 number (the patterns the home page's code box uses); null when it is none. */
  function unitCode() {
    const raw = codeInput.value.trim();
    const link = raw.match(LINK);
    if (link) {
      return link[1];
    }
    const typed = raw.toUpperCase();
    return CODE.test(typed) ? typed : null;
  }

  function endpoint(template, code) {
    return template.replace("__CODE__", encodeURIComponent(code));
  }

  function clockTime(iso) {
    const options = { hour: "2-digit", minute: "2-digit" };
    return new Date(iso).toLocaleTimeString(document.documentElement.lang, options);
  }

  /** Check-ins made on this device that no record names yet and that a record may still close
   * (the server takes a visit of at most the longest span), newest first.  A refused one
   * opened no visit. */
  function openCheckIns() {
    const named = new Set(queueItems.map((item) => item.after).filter(Boolean));
    const earliest = Date.now() - MAX_VISIT_MS;
    return queueItems
      .filter((item) => item.kind === "check-in" && item.state !== "refused" && !named.has(item.id))
      .filter((item) => Date.parse(item.body.at) > earliest)
      .sort((a, b) => b.created - a.created);
  }

  function openCheckIn(code) {
    return code === null ? null : openCheckIns().find((item) => item.code === code) || null;
  }

  /** The check-ins still open on this device, as buttons that pick the unit for check-out:
   * after a reload the technician does not have to scan the car's code again. */
  function showOpenVisits() {
    const open = openCheckIns();
    $("visit-open").hidden = open.length === 0;
    $("visit-open-list").replaceChildren(
      ...open.map((item) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "secondary";
        button.dataset.code = item.code;
        button.textContent = `${item.code} · ${clockTime(item.body.at)}`;
        const entry = document.createElement("li");
        entry.append(button);
        return entry;
      }),
    );
  }

  function pickOpenVisit(event) {
    const button = event.target.closest("button[data-code]");
    if (button) {
      codeInput.value = button.dataset.code;
      codeInput.setCustomValidity("");
      $("visit-action-check-out").checked = true;
      showAction();
      $("visit-tier-" + tier()).focus();
    }
  }

  // -- What the form shows ----------------------------------------------------------------------

  function action() {
    return form.elements["visit-action"].value;
  }

  function tier() {
    return form.elements.tier.value;
  }

  function showAction() {
    const out = action() === "check-out";
    checkOut.hidden = !out;
    checkOut.disabled = !out; // a disabled fieldset takes its fields out of the check-in's validation
    submitButton.replaceChildren(text(out ? "visit-record" : "visit-check-in"));
    showCheckIn();
    showTier();
  }

  /** This unit's check-in on this device, or a field for the time when it was made elsewhere. */
  function showCheckIn() {
    const open = openCheckIn(unitCode());
    checkedInLine.hidden = !open;
    checkInField.hidden = Boolean(open);
    checkInInput.disabled = Boolean(open);
    checkInInput.required = !open;
    if (open) {
      say(checkedInLine, "visit-checked-in", { time: clockTime(open.body.at) });
    } else {
      say($("visit-check-in-hint"), "visit-not-checked-in");
    }
  }

  /** The tables the chosen tier covers: its own and every shorter tier's. */
  function showTier() {
    const rank = TIERS.indexOf(tier());
    for (const group of form.querySelectorAll(".check-group")) {
      const covered = Number(group.dataset.rank) <= rank;
      group.hidden = !covered;
      group.disabled = !covered;
    }
  }

  function coveredItems() {
    return Array.from(form.querySelectorAll(".check-group:not([disabled]) .check-item"));
  }

  function resultOf(item) {
    const checked = item.querySelector(".result-choices input:checked");
    return checked ? checked.value : null;
  }

  /** A copy of a <template>'s markup with ids (and radio names) of its own, under `prefix`. */
  function fromTemplate(templateId, prefix) {
    const copy = $(templateId).content.firstElementChild.cloneNode(true);
    for (const field of copy.querySelectorAll("[data-name]")) {
      field.id = `${prefix}-${field.dataset.name}`;
      if (field.type === "radio") {
        field.name = `${prefix}-level`;
      }
    }
    for (const label of copy.querySelectorAll("label[data-for]")) {
      label.htmlFor = `${prefix}-${label.dataset.for}`;
    }
    return copy;
  }

  /** The fault's description and level, or the part replaced, under an item answered so.  A
   * block made once stays (hidden and disabled) if the answer changes, so nothing typed is lost. */
  function showDetails(item, kind, shown) {
    const box = item.querySelector(".check-details");
    let block = box.querySelector(`[data-details="${kind}"]`);
    if (shown && !block) {
      block = fromTemplate(`${kind}-template`, `${kind}-${item.dataset.code}`);
      block.dataset.details = kind;
      box.append(block);
    }
    if (block) {
      block.hidden = !shown;
      for (const field of block.querySelectorAll("input, textarea")) {
        field.disabled = !shown;
      }
    }
  }

  function onResult(item) {
    const result = resultOf(item);
    const value = item.querySelector(".check-value input");
    if (value) {
      // A part the unit does not have has no reading: the server refuses one.
      value.disabled = result === "not_applicable";
      value.setCustomValidity("");
    }
    showDetails(item, "fault", result === "fault");
    showDetails(item, "part", result === "replaced");
  }

  // -- Technicians ------------------------------------------------------------------------------

  function technicianRows() {
    return Array.from(technicianList.children);
  }

  function technicianField(row, name) {
    return row.querySelector(`[data-name="${name}"]`);
  }

  /** Titles the rows "Technician 1, 2…"; the first two cannot be removed. */
  function renumber() {
    technicianRows().forEach((row, index) => {
      say(row.querySelector('[data-slot="title"]'), "visit-technician", { n: index + 1 });
      row.querySelector('[data-role="remove-technician"]').hidden = index < MIN_TECHNICIANS;
    });
  }

  function addTechnician(person) {
    serial += 1;
    const row = fromTemplate("technician-template", `technician-${serial}`);
    if (person) {
      technicianField(row, "name").value = person.name || "";
      technicianField(row, "certificate").value = person.certificate || "";
    }
    technicianList.append(row);
    renumber();
    return row;
  }

  function savedTechnicians() {
    try {
      const saved = JSON.parse(localStorage.getItem(TECHNICIANS_KEY) || "[]");
      return Array.isArray(saved) ? saved : [];
    } catch (error) {
      return []; // storage refused or spoilt: the technicians are typed again
    }
  }

  function technicians() {
    return technicianRows().map((row) => ({
      name: technicianField(row, "name").value.trim(),
      certificate: technicianField(row, "certificate").value.trim().toUpperCase(),
    }));
  }

  function rememberTechnicians(people) {
    try {
      localStorage.setItem(TECHNICIANS_KEY, JSON.stringify(people));
    } catch (error) {
      // Not remembered: the next visit types them again; the record itself is queued.
    }
  }

  function onTechnicianClick(event) {
    const button = event.target.closest('[data-role="remove-technician"]');
    if (button) {
      button.closest("li").remove();
      renumber();
      $("technician-add").focus();
    }
  }

  // -- Checks the server would make, made here so the record does not come back refused ---------

  function checkTechnicians() {
    const seen = new Set();
    technicianRows().forEach((row, index) => {
      const name = technicianField(row, "name");
      const certificate = technicianField(row, "certificate");
      name.setCustomValidity("");
      certificate.setCustomValidity("");
      if (index < MIN_TECHNICIANS && name.value.trim() === "") {
        name.setCustomValidity(plainText("visit-technicians-min"));
      }
      const number = certificate.value.trim().toUpperCase();
      if (certificate.validity.patternMismatch) {
        certificate.setCustomValidity(plainText("visit-certificate"));
      } else if (number !== "" && seen.has(number)) {
        certificate.setCustomValidity(plainText("visit-technician-same"));
      }
      seen.add(number);
    });
  }

  /** Readings below the standard's minimum stand only as a fault; returns how many items
   * have no answer yet. */
  function checkItems() {
    let unanswered = 0;
    for (const item of coveredItems()) {
      const result = resultOf(item);
      if (result === null) {
        unanswered += 1;
      }
      const value = item.querySelector(".check-value input");
      const minimum = item.dataset.min;
      if (!value || minimum === undefined) {
        continue;
      }
      const below = value.value !== "" && Number(value.value) < Number(minimum);
      const allowed = result === "fault" || result === "not_applicable";
      const message = below && !allowed ? plainText("visit-value-below", { min: minimum, unit: item.dataset.unit }) : "";
      value.setCustomValidity(message);
    }
    return unanswered;
  }

  /** The check-in time the record repeats: this device's, or the one typed (checked here for
   * the span the server accepts). */
  function checkInTime(open) {
    checkInInput.setCustomValidity("");
    if (open) {
      return open.body.at;
    }
    if (checkInInput.value === "") {
      return null; // required: the browser says so
    }
    const moment = new Date(checkInInput.value); // datetime-local: the phone's own time zone
    const now = Date.now();
    if (moment.getTime() > now) {
      checkInInput.setCustomValidity(plainText("visit-check-in-future"));
    } else if (now - moment.getTime() > MAX_VISIT_MS) {
      checkInInput.setCustomValidity(plainText("visit-check-in-old", { hours: MAX_VISIT_HOURS }));
    }
    return scanner.localTime(moment);
  }

  // -- Queued items -----------------------------------------------------------------------------

  function checkInItem(code) {
    const moment = new Date();
    const id = scanner.newId();
    const at = scanner.localTime(moment);
    return {
      id,
      kind: "check-in",
      code,
      endpoint: endpoint(CHECK_IN_ENDPOINT, code),
      body: { client_event_id: id, at },
      created: moment.getTime(),
      time: at,
      holdUntil: moment.getTime() + MAX_VISIT_MS, // the record at check-out will need it
    };
  }

  function recordBody(id, checkIn, checkOutTime) {
    const items = [];
    const faults = [];
    const parts = [];
    for (const item of coveredItems()) {
      const code = item.dataset.code;
      const result = resultOf(item);
      const answer = { code, result };
      const value = item.querySelector(".check-value input");
      if (value && result !== "not_applicable") {
        answer.value = Number(value.value);
      }
      items.push(answer);
      const prefix = `${result === "fault" ? "fault" : "part"}-${code}`;
      if (result === "fault") {
        faults.push({
          description: $(`${prefix}-description`).value.trim(),
          level: item.querySelector(`input[name="${prefix}-level"]:checked`).value,
          item_code: code,
          open_hazard: $(`${prefix}-hazard`).checked,
        });
      } else if (result === "replaced") {
        parts.push({ part: $(`${prefix}-part`).value.trim(), quantity: Number($(`${prefix}-quantity`).value) });
      }
    }
    const body = {
      client_event_id: id,
      tier: tier(),
      check_in: checkIn,
      check_out: checkOutTime,
      technicians: technicians(),
      items,
      faults,
    };
    if (parts.length > 0) {
      body.parts_replaced = parts;
    }
    return body;
  }

  function recordItem(code, open, checkIn) {
    const moment = new Date();
    const id = scanner.newId();
    const checkOutTime = scanner.localTime(moment);
    const item = {
      id,
      kind: "maintenance",
      code,
      endpoint: endpoint(RECORD_ENDPOINT, code),
      body: recordBody(id, checkIn, checkOutTime),
      created: moment.getTime(),
      time: checkOutTime,
    };
    if (open) {
      item.after = open.id; // sent only once this check-in is recorded
    }
    return item;
  }

  /** After a record: a clean checklist for the next unit; the technicians stay. */
  function clearChecklist() {
    for (const input of form.querySelectorAll(".result-choices input:checked")) {
      input.checked = false;
    }
    for (const item of form.querySelectorAll(".check-item")) {
      const value = item.querySelector(".check-value input");
      if (value) {
        value.value = "";
      }
      item.querySelector(".check-details").replaceChildren();
      onResult(item);
    }
    checkInInput.value = "";
  }

  async function onSubmit(event) {
    event.preventDefault();
    const code = unitCode();
    codeInput.setCustomValidity(code === null && codeInput.value.trim() !== "" ? plainText("visit-code-invalid") : "");
    const out = action() === "check-out";
    let unanswered = 0;
    let open = null;
    let checkIn = null;
    if (out) {
      open = openCheckIn(code);
      checkIn = checkInTime(open);
      unanswered = checkItems();
      checkTechnicians();
    }
    if (!form.reportValidity()) {
      if (unanswered > 0) {
        say(status, "visit-unanswered", { n: unanswered });
      }
      return;
    }
    submitButton.disabled = true; // a double tap must not queue two
    let item;
    try {
      item = out ? recordItem(code, open, checkIn) : checkInItem(code);
      await scanner.enqueue(item, status);
    } catch (error) {
      scanner.showStorageFailed(); // the form keeps what was typed, to try again
      return;
    } finally {
      submitButton.disabled = false;
    }
    if (out) {
      rememberTechnicians(item.body.technicians);
      clearChecklist();
      codeInput.value = "";
      $("visit-action-check-in").checked = true;
      say(status, "visit-saved-record");
      codeInput.focus();
    } else {
      // What comes next at this unit is its check-out: the checklist is filled in as the work goes.
      $("visit-action-check-out").checked = true;
      say(status, "visit-saved-check-in", { time: clockTime(item.body.at) });
    }
    showAction();
  }

  // -- Start ------------------------------------------------------------------------------------

  async function start() {
    await scanner.ready;
    queueItems = await scanner.items();
    const saved = savedTechnicians();
    for (let index = 0; index < Math.max(MIN_TECHNICIANS, saved.length); index += 1) {
      addTechnician(saved[index]);
    }
    scanner.onChange((items) => {
      queueItems = items;
      showOpenVisits();
      showCheckIn();
    });
    form.addEventListener("submit", onSubmit);
    form.addEventListener("change", (event) => {
      const field = event.target;
      if (field.name === "visit-action") {
        showAction();
      } else if (field.name === "tier") {
        showTier();
      } else if (field.name.startsWith("result-")) {
        onResult(field.closest(".check-item"));
      }
    });
    form.addEventListener("input", (event) => {
      event.target.setCustomValidity(""); // checked again on the next submit
      if (event.target === codeInput) {
        showCheckIn();
      }
    });
    technicianList.addEventListener("click", onTechnicianClick);
    $("technician-add").addEventListener("click", () => technicianField(addTechnician(), "name").focus());
    $("visit-open-list").addEventListener("click", pickOpenVisit);
    scanner.attachCamera({
      toggle: $("visit-camera-toggle"),
      box: $("visit-camera"),
      video: $("visit-camera-video"),
      status: $("visit-camera-status"),
      read: (code) => {
        codeInput.value = code;
        codeInput.setCustomValidity("");
        showCheckIn();
        codeInput.focus();
      },
    });
    showOpenVisits();
    showAction();
    form.dataset.ready = "true";
  }

  start();
})();
