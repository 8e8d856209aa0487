/* The integrity badge: the visitor's own browser checks that the facts on this page are entries
 * of the ledger signed by the ledger's key, so nobody has to take this server's word for it.
 *
 * For each element [data-integrity] with data-seqs="3,17,42" (the ledger seqs of the facts shown):
 *  1. The ledger key (/api/v1/ledger/key): the verifier key "name+keyid+base64(0x01 ‖ key)" must
 *     carry the key id SHA-256(name ‖ "\n" ‖ 0x01 ‖ key)[0:4], and the PEM must hold the same key.
 *  2. The latest checkpoint (/api/v1/ledger/checkpoint), a C2SP signed note: a signature line by
 *     that key name and key id must verify (Ed25519) over the note body; the body names the
 *     ledger's origin, its size and its root hash.
 *  3. What this browser saw before: the last checkpoint it verified is kept in localStorage, and
 *     the new one must extend it (RFC 9162 consistency proof).  A server that rewrote its history
 *     cannot prove that, even with its own key, so the badge then says the history was rewritten.
 *  4. Each seq below the checkpoint's size: leaf hash = SHA-256(0x00 ‖ the raw entry bytes), and
 *     its RFC 9162 inclusion proof must lead from that leaf to the signed root.
 *  5. Witnesses (/api/v1/ledger/witnesses): organisations outside the operator that cosign the
 *     checkpoint (C2SP tlog-cosignature) only while the ledger's history stays append-only.  Each
 *     cosignature line on the note is checked here against the witness's published key, the
 *     signed message being "cosignature/v1\ntime <t>\n" and the note body; only those that verify
 *     are counted, shown as data-witnesses="N".  Witnesses add assurance, never take it away: no
 *     witness list, or no cosignature yet, leaves the badge's state as the checks above made it.
 *
 * data-integrity: "pending" while checking, then "verified", "partial" (some entries are newer
 * than the latest checkpoint), "failed" (a check ran and did not pass) or "unavailable" (it could
 * not run: network, no checkpoint yet, a browser without Ed25519); an outage is not shown as a
 * failure, because it says nothing about the ledger.
 */

const TIMEOUT_MS = 15000;
const PARALLEL = 4; // requests at a time: the public API is rate-limited per address
const MEMORY_PREFIX = "anlian.checkpoint:";
const MAX_LISTED = 8; // more seqs than this are shown as a range
// DER header of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow it.
const SPKI_ED25519 = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]);

const text = (zh, en) => ({ zh, en });

/** A check that ran and did not pass. */
class Failure extends Error {
  constructor(message) {
    super(message.en);
    this.text = message;
  }
}

/** What this browser saw before is not part of the ledger it is shown now. */
class Rewritten extends Failure {}

/** The check could not run; nothing is known either way. */
class Unavailable extends Error {
  constructor(message) {
    super(message.en);
    this.text = message;
  }
}

// -- Bytes and hashes ---------------------------------------------------------------------------

const encoder = new TextEncoder();

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const equal = (a, b) => a.length === b.length && a.every((byte, i) => byte === b[i]);
const sha256 = async (...parts) => new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));
const leafHash = (entry) => sha256(Uint8Array.of(0x00), entry);
const nodeHash = (left, right) => sha256(Uint8Array.of(0x01), left, right);
const toHex = (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
const toBase64 = (bytes) => btoa(String.fromCharCode(...bytes));

function fromBase64(value, what) {
  try {
    return Uint8Array.from(atob(value), (char) => char.charCodeAt(0));
  } catch {
    throw new Failure(text(`${what.zh}不是 base64`, `${what.en} is not base64`));
  }
}

function fromHex(value) {
  if (typeof value !== "string" || !/^(?:[0-9a-f]{2})*$/i.test(value)) {
    throw new Failure(text("证明中的哈希格式不对", "a proof hash is not hex"));
  }
  return Uint8Array.from(value.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function hashesOf(proof) {
  if (!Array.isArray(proof?.hashes)) {
    throw new Failure(text("证明格式不对", "a proof is malformed"));
  }
  return proof.hashes.map(fromHex);
}

// Tree indexes as plain numbers: JavaScript's bit operators work on 32 bits, and a ledger may
// outgrow 2^31 entries, so halving and parity are written out.
const half = (n) => Math.floor(n / 2);
const odd = (n) => n % 2 === 1;

function isPowerOfTwo(n) {
  while (n > 1 && !odd(n)) {
    n = half(n);
  }
  return n === 1;
}

// -- RFC 9162 proofs ----------------------------------------------------------------------------

/** RFC 9162 §2.1.3.2: the root an inclusion proof leads to from `leaf` at `index`. */
async function inclusionRoot(index, size, leaf, proof) {
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const sibling of proof) {
    if (sn === 0) {
      throw new Failure(text("包含证明的哈希多于树的层数", "the inclusion proof has too many hashes"));
    }
    if (odd(fn) || fn === sn) {
      r = await nodeHash(sibling, r);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = await nodeHash(r, sibling);
    }
    fn = half(fn);
    sn = half(sn);
  }
  if (sn !== 0) {
    throw new Failure(text("包含证明的哈希少于树的层数", "the inclusion proof has too few hashes"));
  }
  return r;
}

/** RFC 9162 §2.1.4.2: does the tree (first, firstRoot) extend into (second, secondRoot)? */
async function isConsistent(first, second, firstRoot, secondRoot, proof) {
  if (first === second) {
    return proof.length === 0 && equal(firstRoot, secondRoot);
  }
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  if (proof.length === 0) {
    return false;
  }
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) {
      return false;
    }
    if (odd(fn) || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
}

// -- The server ---------------------------------------------------------------------------------

/**
 * GET `path`.  The server refusing what it must have (an entry, a proof) is a failed check;
 * being unreachable, busy or down is not.  `absent` makes a 404 "unavailable" instead.
 */
async function fetchOk(path, what, absent = null) {
  let response;
  try {
    response = await fetch(path, { cache: "no-cache", signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch {
    throw new Unavailable(text(`无法连接服务器（${what.zh}）`, `could not reach the server (${what.en})`));
  }
  if (response.ok) {
    return response;
  }
  if (response.status === 404 && absent) {
    throw new Unavailable(absent);
  }
  if (response.status >= 500 || response.status === 408 || response.status === 429) {
    throw new Unavailable(
      text(`服务器暂时无法回答（${what.zh}）`, `the server could not answer now (${what.en}: HTTP ${response.status})`),
    );
  }
  throw new Failure(text(`服务器无法提供${what.zh}`, `the server could not provide ${what.en} (HTTP ${response.status})`));
}

async function ledgerKey() {
  const key = await (await fetchOk("/api/v1/ledger/key", text("账本公钥", "the ledger key"))).json();
  const verifier = String(key.verifier_key);
  // "name+keyid+base64": the base64 may itself hold "+", so split at the first two only.
  const first = verifier.indexOf("+");
  const second = verifier.indexOf("+", first + 1);
  if (first < 1 || second < 0) {
    throw new Failure(text("账本公钥格式不对", "the verifier key is not name+keyid+key"));
  }
  const name = verifier.slice(0, first);
  const id = fromHex(verifier.slice(first + 1, second));
  const raw = fromBase64(verifier.slice(second + 1), text("账本公钥", "the verifier key"));
  if (raw.length !== 33 || raw[0] !== 0x01) {
    throw new Failure(text("账本公钥不是 Ed25519 公钥", "the verifier key is not an Ed25519 key"));
  }
  const publicKey = raw.slice(1);
  const expectedId = (await sha256(encoder.encode(`${name}\n`), Uint8Array.of(0x01), publicKey)).slice(0, 4);
  if (!equal(id, expectedId)) {
    throw new Failure(text("账本公钥的 key id 与公钥不符", "the verifier key's id does not match its key"));
  }
  const pem = String(key.public_key_pem).replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
  if (!equal(fromBase64(pem, text("PEM 公钥", "the PEM key")), concat(SPKI_ED25519, publicKey))) {
    throw new Failure(text("PEM 公钥与签名公钥不是同一把", "the PEM key and the verifier key differ"));
  }
  return { name, id, raw: publicKey, publicKey: await importEd25519(publicKey), origin: key.origin };
}

async function importEd25519(publicKey) {
  try {
    return await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    if (error.name === "NotSupportedError") {
      throw new Unavailable(text("此浏览器不支持 Ed25519 签名核验", "this browser cannot check Ed25519 signatures"));
    }
    throw new Failure(text("账本公钥无效", "the ledger key is not a valid Ed25519 key"));
  }
}

/** The checkpoint a C2SP signed note carries, once a signature by `key` verifies over its body. */
async function openCheckpoint(note, key) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) {
    throw new Failure(text("检查点不是签名文本", "the checkpoint is not a signed note"));
  }
  const body = note.slice(0, split + 1);
  let signed = false;
  const signatures = [];
  for (const line of note.slice(split + 2, -1).split("\n")) {
    if (!line.startsWith("— ")) {
      throw new Failure(text("检查点的签名行格式不对", "a checkpoint signature line is malformed"));
    }
    const [name, encoded = ""] = line.slice(2).split(" ");
    const blob = fromBase64(encoded, text("检查点签名", "the checkpoint signature"));
    signatures.push({ name, blob });
    if (name !== key.name || blob.length < 5 || !equal(blob.slice(0, 4), key.id)) {
      continue; // another witness's signature: not ours to judge
    }
    // A signature by our key that does not verify means the note was altered, whatever else it carries.
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, key.publicKey, blob.slice(4), encoder.encode(body)))) {
      throw new Failure(text("检查点签名无效", "the checkpoint signature does not verify"));
    }
    signed = true;
  }
  if (!signed) {
    throw new Failure(text("检查点没有账本公钥的签名", "the checkpoint is not signed by the ledger key"));
  }
  return { ...parseCheckpoint(body, key.origin), body, signatures };
}

function parseCheckpoint(body, origin) {
  const [name, size, root] = body.split("\n");
  if (!name || !/^(0|[1-9][0-9]*)$/.test(size ?? "") || !Number.isSafeInteger(Number(size))) {
    throw new Failure(text("检查点格式不对", "the checkpoint body is malformed"));
  }
  if (name !== origin) {
    throw new Failure(text(`检查点属于另一个账本 ${name}`, `the checkpoint is for another ledger, ${name}`));
  }
  const rootHash = fromBase64(root ?? "", text("检查点根哈希", "the checkpoint root hash"));
  if (rootHash.length !== 32) {
    throw new Failure(text("检查点根哈希不是 32 字节", "the checkpoint root hash is not 32 bytes"));
  }
  return { origin: name, size: Number(size), root: rootHash };
}

// -- Witnesses (C2SP tlog-cosignature) -----------------------------------------------------------

const COSIGNATURE_V1 = 0x04;
const COSIGNATURE_BYTES = 4 + 8 + 64; // key id, big-endian seconds, Ed25519 signature
const MAX_TIMESTAMP = 2n ** 63n - 1n;

/** The published witnesses; none when the list cannot be had (witnesses only add assurance). */
async function witnessList() {
  try {
    const options = { cache: "no-cache", signal: AbortSignal.timeout(TIMEOUT_MS) };
    const response = await fetch("/api/v1/ledger/witnesses", options);
    const listed = response.ok ? (await response.json()).witnesses : [];
    return Array.isArray(listed) ? listed : [];
  } catch {
    return [];
  }
}

/** A witness's vkey "name+keyid+base64(0x04 ‖ key)", its key id recomputed; null if malformed. */
async function witnessKey(witness) {
  const vkey = String(witness?.verifier_key ?? "");
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  if (first < 1 || second < 0) {
    return null;
  }
  const name = vkey.slice(0, first);
  let raw;
  try {
    raw = fromBase64(vkey.slice(second + 1), text("见证方公钥", "a witness key"));
  } catch {
    return null;
  }
  if (raw.length !== 33 || raw[0] !== COSIGNATURE_V1) {
    return null;
  }
  const key = raw.slice(1);
  // The key id is SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[0:4]: one that does not match names another key.
  const id = (await sha256(encoder.encode(`${name}\n`), Uint8Array.of(COSIGNATURE_V1), key)).slice(0, 4);
  if (vkey.slice(first + 1, second) !== toHex(id)) {
    return null;
  }
  try {
    const publicKey = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
    return { name, id, raw: key, publicKey, organisation: String(witness.organisation || name) };
  } catch {
    return null;
  }
}

/** Does `signature` (a line on the note) hold a valid cosignature by `witness` of `body`? */
async function cosigned(witness, signature, body) {
  const { name, blob } = signature;
  if (name !== witness.name || blob.length !== COSIGNATURE_BYTES || !equal(blob.slice(0, 4), witness.id)) {
    return false;
  }
  const seconds = new DataView(blob.buffer, blob.byteOffset + 4, 8).getBigUint64(0);
  if (seconds === 0n || seconds > MAX_TIMESTAMP) {
    return false;
  }
  const message = encoder.encode(`cosignature/v1\ntime ${seconds}\n${body}`);
  return crypto.subtle.verify({ name: "Ed25519" }, witness.publicKey, blob.slice(12), message);
}

/**
 * The witnesses whose cosignature on this checkpoint verifies in this browser, each counted once.
 * A witness holding the ledger's own key vouches for nothing and is not counted.
 */
async function vouching(checkpoint, listed, ledgerRaw) {
  const found = new Map();
  for (const witness of (await Promise.all(listed.map(witnessKey))).filter(Boolean)) {
    if (equal(witness.raw, ledgerRaw) || found.has(toHex(witness.raw))) {
      continue;
    }
    for (const signature of checkpoint.signatures) {
      if (await cosigned(witness, signature, checkpoint.body)) {
        found.set(toHex(witness.raw), witness.organisation);
        break;
      }
    }
  }
  return [...found.values()];
}

function witnessedText(organisations, listed) {
  const count = organisations.length;
  if (!count) {
    return listed
      ? text("尚无独立见证方联署此检查点。", " No independent witness has cosigned this checkpoint yet.")
      : text("", "");
  }
  const names = text(organisations.join("、"), organisations.join(", "));
  return text(
    `${count} 个独立见证方为此作证（${names.zh}）：它们核对过账本只增不改后联署了这个检查点。`,
    ` ${count === 1 ? "1 independent witness vouches" : `${count} independent witnesses vouch`} for it ` +
      `(${names.en}): they checked that the ledger only grew, then cosigned this checkpoint.`,
  );
}

// -- What this browser saw before (gossip with itself) -----------------------------------------

function recall(origin) {
  try {
    const seen = JSON.parse(localStorage.getItem(MEMORY_PREFIX + origin) ?? "null");
    return seen && Number.isSafeInteger(seen.size) && typeof seen.root === "string" ? seen : null;
  } catch {
    return null; // storage blocked or unreadable: this visit counts as the first
  }
}

function remember(checkpoint) {
  try {
    const { origin, size, root } = checkpoint;
    const seen = { origin, size, root: toBase64(root), at: new Date().toISOString() };
    localStorage.setItem(MEMORY_PREFIX + origin, JSON.stringify(seen));
  } catch {
    // Private browsing may refuse storage; the badge still checks this visit.
  }
}

/**
 * The checkpoint remembered from an earlier visit and the one shown now must be the same tree
 * at two sizes.  Either may be the larger: a server may show an older checkpoint (a cache, a
 * lagging replica), which is fine as long as it is a prefix of what was seen.
 */
async function checkAgainstMemory(checkpoint) {
  const seen = recall(checkpoint.origin);
  if (!seen) {
    return;
  }
  const before = { size: seen.size, root: fromBase64(seen.root, text("本机记录", "the remembered root")) };
  const [small, large] = before.size <= checkpoint.size ? [before, checkpoint] : [checkpoint, before];
  let proof = [];
  try {
    if (small.size !== large.size) {
      const path = `/api/v1/ledger/proof/consistency?first=${small.size}&second=${large.size}`;
      const answer = await (await fetchOk(path, text("一致性证明", "the consistency proof"))).json();
      proof = hashesOf(answer);
    }
    if (await isConsistent(small.size, large.size, small.root, large.root, proof)) {
      return;
    }
  } catch (error) {
    if (!(error instanceof Failure)) {
      throw error;
    }
  }
  const when = formatTime(new Date(seen.at));
  throw new Rewritten(
    text(
      `此浏览器于 ${when} 看到的账本（${seen.size} 条记录）不是现在这个账本（${checkpoint.size} 条）的前身：向您展示的历史被改写了。`,
      `The history shown to this browser was rewritten: the ledger it saw at ${when} (${seen.size} entries) ` +
        `is not part of the one shown now (${checkpoint.size} entries).`,
    ),
  );
}

// -- Entries ------------------------------------------------------------------------------------

async function checkEntry(seq, checkpoint) {
  const entry = text(`第 #${seq} 条记录`, `entry #${seq}`);
  const raw = new Uint8Array(await (await fetchOk(`/api/v1/ledger/entries/${seq}/raw`, entry)).arrayBuffer());
  const proofPath = `/api/v1/ledger/proof/inclusion?seq=${seq}&tree_size=${checkpoint.size}`;
  const proof = await (await fetchOk(proofPath, text(`#${seq} 的包含证明`, `the inclusion proof of #${seq}`))).json();
  const leaf = await leafHash(raw);
  // The proof's own leaf_hash is the server's word; it only tells which of two checks failed.
  if (proof.leaf_hash !== toHex(leaf)) {
    throw new Failure(
      text(`第 #${seq} 条记录：内容的哈希与账本中的叶哈希不符`, `entry #${seq}: its bytes do not hash to the ledger's leaf hash`),
    );
  }
  let root;
  try {
    root = await inclusionRoot(seq, checkpoint.size, leaf, hashesOf(proof));
  } catch (error) {
    if (!(error instanceof Failure)) {
      throw error;
    }
    throw new Failure(text(`第 #${seq} 条记录：${error.text.zh}`, `entry #${seq}: ${error.text.en}`));
  }
  if (!equal(root, checkpoint.root)) {
    throw new Failure(
      text(`第 #${seq} 条记录：包含证明推不出已签名的根哈希`, `entry #${seq}: its inclusion proof does not lead to the signed root hash`),
    );
  }
}

/** Run `task` over `items`, at most PARALLEL at a time; the results in the items' order. */
async function inTurn(items, task) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]).then(
        () => null,
        (error) => error,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return results;
}

// -- The badge ----------------------------------------------------------------------------------

function formatTime(date) {
  const pad = (n) => String(n).padStart(2, "0");
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  return `${day} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function listed(seqs) {
  if (seqs.length <= MAX_LISTED) {
    return text(seqs.map((seq) => `#${seq}`).join("、"), seqs.map((seq) => `#${seq}`).join(", "));
  }
  const [first, last] = [seqs[0], seqs[seqs.length - 1]];
  return text(`#${first} … #${last}（共 ${seqs.length} 条）`, `#${first} … #${last} (${seqs.length} entries)`);
}

// The page's language (<html lang>, chosen by the server) picks which half of each text is shown.
const ENGLISH = document.documentElement.lang.startsWith("en");

function inPageLanguage(tag, message) {
  const element = document.createElement(tag);
  element.textContent = ENGLISH ? message.en : message.zh;
  return element;
}

function show(badge, state, headline, detail = null) {
  badge.dataset.integrity = state;
  badge.replaceChildren(inPageLanguage("strong", headline), ...(detail ? [inPageLanguage("span", detail)] : []));
}

function verifiedText(checked, newer, checkpoint, witnessed) {
  const seqs = listed(checked);
  const entries = checked.length === 1 ? "entry" : "entries";
  const when = formatTime(new Date());
  const later = newer.length
    ? text(
        `另有 ${newer.length} 条较新的记录尚未进入签名检查点，稍后再核验。`,
        ` ${newer.length} newer: not in a signed checkpoint yet; check again later.`,
      )
    : text("", "");
  return text(
    `账本 ${checkpoint.origin} 共 ${checkpoint.size} 条记录中的第 ${seqs.zh} 条，检查点签名有效；${when} 在本机核验。` +
      `${witnessed.zh}${later.zh}`,
    `${entries} ${seqs.en} of ${checkpoint.size} in ledger ${checkpoint.origin}, checkpoint signature valid; ` +
      `checked in this browser at ${when}.${witnessed.en}${later.en}`,
  );
}

async function verify(badge) {
  const seqs = [...new Set((badge.dataset.seqs ?? "").split(",").filter((s) => /^\d+$/.test(s)).map(Number))];
  seqs.sort((a, b) => a - b);
  if (!seqs.length) {
    return; // nothing on this page to check: the server-rendered text stays
  }
  show(badge, "pending", text("正在您的浏览器中核验…", "Checking in your browser…"));
  if (!globalThis.crypto?.subtle) {
    throw new Unavailable(text("核验需要 HTTPS 连接", "checking needs an HTTPS connection"));
  }
  const [key, note, listed] = await Promise.all([
    ledgerKey(),
    fetchOk(
      "/api/v1/ledger/checkpoint",
      text("检查点", "the checkpoint"),
      text("账本还没有签名检查点，请稍后再试", "the ledger has no signed checkpoint yet; try again later"),
    ).then((response) => response.text()),
    witnessList(),
  ]);
  const checkpoint = await openCheckpoint(note, key);
  await checkAgainstMemory(checkpoint);
  remember(checkpoint); // only once it is known to extend what was seen: a fork is never remembered
  const checked = seqs.filter((seq) => seq < checkpoint.size);
  const newer = seqs.filter((seq) => seq >= checkpoint.size);
  const errors = (await inTurn(checked, (seq) => checkEntry(seq, checkpoint))).filter(Boolean);
  if (errors.length) {
    throw errors.find((error) => error instanceof Failure) ?? errors[0]; // the first failed check, by seq
  }
  if (!checked.length) {
    throw new Unavailable(
      text("这些记录比最新的签名检查点还新，请稍后再核验", "these entries are newer than the latest signed checkpoint; check again later"),
    );
  }
  const state = newer.length ? "partial" : "verified";
  const headline = newer.length
    ? text("部分已在您的浏览器中核验", "Partly verified in your browser")
    : text("已在您的浏览器中核验", "Verified in your browser");
  const organisations = await vouching(checkpoint, listed, key.raw);
  const witnessed = witnessedText(organisations, listed.length > 0);
  show(badge, state, headline, verifiedText(checked, newer, checkpoint, witnessed));
  badge.dataset.witnesses = String(organisations.length);
}

function report(badge, error) {
  if (error instanceof Rewritten) {
    show(badge, "failed", text("账本历史被改写", "The ledger's history was rewritten"), error.text);
  } else if (error instanceof Failure) {
    show(badge, "failed", text("核验失败", "Verification failed"), error.text);
  } else if (error instanceof Unavailable) {
    show(badge, "unavailable", text("暂时无法核验", "Could not check now"), error.text);
  } else {
    show(badge, "unavailable", text("暂时无法核验", "Could not check now"), text(String(error), String(error)));
  }
}

for (const badge of document.querySelectorAll("[data-integrity]")) {
  verify(badge).catch((error) => report(badge, error));
}
