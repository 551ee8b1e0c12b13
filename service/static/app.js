// The web page: send the pasted text to POST /v1/check and show every sentence by verdict.
// No framework and no build step; all text from the API is set with textContent, never as HTML.
// The words for a verdict come from wording.js (describeVerdict), the same file the extension bundles.

const { describeVerdict, describeScope, CLAIM_GROUPS } = globalThis.veracityWording;
const LABELS = ["supported", "unsupported", "contradicted"];

const $ = (id) => document.getElementById(id);
const form = $("check-form");
const textArea = $("text");
const button = $("check-button");
const statusLine = $("status");
const errorBox = $("error");
const results = $("results");
const docView = $("document");
const popover = $("evidence-popover");

let sentences = new Map(); // index -> API sentence
let open = null; // the highlighted sentence element whose evidence is shown
let hideTimer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/** The API counts Unicode code points; JS strings index UTF-16 units. Same helper as the extension's. */
function codePointToUtf16(text) {
  if (!/[\uD800-\uDFFF]/.test(text)) return (offset) => offset;
  const table = [];
  let utf16 = 0;
  for (const ch of text) {
    table.push(utf16);
    utf16 += ch.length;
  }
  table.push(utf16);
  return (offset) => table[Math.min(offset, table.length - 1)];
}

function showError(message, { keepResults = false } = {}) {
  errorBox.textContent = message;
  errorBox.hidden = false;
  statusLine.textContent = "";
  // Results of an earlier text must not sit under an error about this one; the parts of this text already
  // checked stay (keepResults), and the message says the rest was not.
  if (!keepResults) results.hidden = true;
  hidePopover();
}

// ---- Checking: long texts go in parts, shown as they come back, with progress and Cancel ----------

// About 50 sentences: on two cores a part comes back every second or two. A server with a smaller body limit
// answers 413 body_too_large, and the part is halved until it fits.
const PART_CHARS = 6000;
const SMALLEST_PART_CHARS = 500;
const progressBar = $("progress");
const cancelButton = $("cancel-button");
let running = null; // the AbortController of the check in progress

/**
 * What a part is read with so its claims are built in context (the API's `context` field, never checked): the
 * title (a first line "# Title") and the last whole lines before `start`, so "It can be deadly." at the top of
 * a part still knows what *it* is.
 */
function contextBefore(text, start) {
  if (start <= 0) return "";
  let tail = text.slice(Math.max(0, start - 1500), start);
  if (start > 1500 && tail.includes("\n")) tail = tail.slice(tail.indexOf("\n") + 1);
  const firstLine = text.split("\n", 1)[0];
  const title = firstLine.startsWith("# ") && firstLine.length <= 300 && start > firstLine.length ? firstLine : "";
  return title && !tail.startsWith(title) ? `${title}\n\n${tail}` : tail;
}

/** End (exclusive, UTF-16) of the part of `text` from `start`: at most `limit` long, after a paragraph or line
 * break where one fits in its second half (so a sentence is never cut), else after a space. */
function partEnd(text, start, limit) {
  if (text.length - start <= limit) return text.length;
  const head = text.slice(start, start + limit);
  for (const mark of ["\n\n", "\n", " "]) {
    const at = head.lastIndexOf(mark);
    if (at >= limit / 2) return start + at + mark.length;
  }
  let end = start + limit;
  if (/[\uD800-\uDBFF]/.test(text[end - 1])) end -= 1; // never split a surrogate pair
  return end;
}

function progressText(done, total, claims, startedAt) {
  const fraction = done / total;
  const elapsed = (performance.now() - startedAt) / 1000;
  const left = fraction > 0 ? Math.max(1, Math.round((elapsed * (1 - fraction)) / fraction)) : null;
  return (
    `Checked ${Math.round(fraction * 100)}% of the text · ${claims} ${claims === 1 ? "claim" : "claims"} so far` +
    (left === null ? "" : ` · about ${left} s left`)
  );
}

async function check(event) {
  event.preventDefault();
  if (running) return;
  const text = textArea.value;
  errorBox.hidden = true;
  if (!text.trim()) {
    showError("Paste some text to check first.");
    textArea.focus();
    return;
  }
  const controller = new AbortController();
  running = controller;
  button.disabled = true;
  cancelButton.hidden = false;
  progressBar.hidden = false;
  progressBar.value = 0;
  results.hidden = true; // the last text's results go as soon as a new check starts
  statusLine.textContent = "Checking…";
  const view = startRender(text);
  const checkAll = $("check-all").checked;
  const startedAt = performance.now();
  let limit = PART_CHARS;
  let done = 0;
  try {
    while (done < text.length) {
      const end = partEnd(text, done, limit);
      const piece = text.slice(done, end);
      let response;
      let body;
      try {
        response = await fetch("v1/check", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ text: piece, check_all: checkAll, context: contextBefore(text, done) }),
          signal: controller.signal,
        });
        body = await response.json().catch(() => null);
      } catch {
        if (controller.signal.aborted) {
          statusLine.textContent =
            `Cancelled: ${Math.round((100 * done) / text.length)}% of the text checked ` +
            `(${view.claims} ${view.claims === 1 ? "claim" : "claims"}); the rest was not sent.`;
          view.finish(false);
          return;
        }
        showError("Could not reach the Veracity server. Is it still running? Try again in a moment.", {
          keepResults: done > 0,
        });
        return;
      }
      if (response.status === 413 && body?.error?.code === "body_too_large" && limit > SMALLEST_PART_CHARS) {
        limit = Math.max(SMALLEST_PART_CHARS, Math.floor(limit / 2));
        continue;
      }
      if (!body || body.ok !== true) {
        const error = body?.error;
        const message = error ? `${error.message} (${error.code})` : `The server answered HTTP ${response.status} without a result.`;
        showError(done > 0 ? `${message} The text after ${Math.round((100 * done) / text.length)}% was not checked.` : message, {
          keepResults: done > 0,
        });
        return;
      }
      view.add(done, piece, body);
      done = end;
      progressBar.value = done / text.length;
      if (done < text.length) statusLine.textContent = progressText(done, text.length, view.claims, startedAt);
    }
    view.finish(true);
  } finally {
    running = null;
    button.disabled = false;
    cancelButton.hidden = true;
    progressBar.hidden = true;
  }
}

cancelButton.addEventListener("click", () => running?.abort());

/** The textarea and its options while editing; once checked, only "Edit text" and the annotated text below. */
function showText(editing) {
  form.classList.toggle("checked", !editing);
  $("edit-button").hidden = editing;
}

$("edit-button").addEventListener("click", () => {
  showText(true);
  textArea.focus();
});

/** The annotated text, built part by part: each part's sentences replace the grey, not yet checked tail. */
function startRender(text) {
  hidePopover();
  sentences = new Map();
  const summary = { supported: 0, unsupported: 0, contradicted: 0, not_checkworthy: 0 };
  let count = 0;
  let last = null; // the last part's body: corpus and model
  let tail = el("span", { class: "pending" }, text);
  docView.replaceChildren(tail);
  const view = {
    claims: 0,
    add(offset, piece, body) {
      const toUtf16 = codePointToUtf16(piece);
      const parts = [];
      let cursor = 0;
      for (const s of [...body.sentences].sort((a, b) => a.start - b.start)) {
        const start = toUtf16(s.start);
        const end = toUtf16(s.end);
        if (start > cursor) parts.push(piece.slice(cursor, start));
        parts.push(sentenceNode({ ...s, index: count++ }, piece.slice(start, end)));
        cursor = Math.max(cursor, end);
      }
      parts.push(piece.slice(cursor));
      const rest = text.slice(offset + piece.length);
      const next = el("span", { class: "pending" }, rest);
      tail.replaceWith(...parts, next);
      tail = next;
      for (const key of Object.keys(summary)) summary[key] += body.summary[key] ?? 0;
      view.claims = sentences.size;
      last = body;
      showSummary(summary);
      showClaims();
      if (results.hidden) {
        results.hidden = false;
        showText(false); // the annotated text takes the textarea's place; "Edit text" brings it back
        // Focus and scroll to the results once (on a phone they open below the fold); later parts arrive
        // without moving the reader.
        results.focus({ preventScroll: true });
        results.scrollIntoView({ block: "start" });
      }
    },
    finish(complete) {
      if (!tail.textContent) tail.remove();
      const checked = sentences.size;
      $("meta").textContent =
        `${count} sentences, ${checked} checked against corpus ${last?.corpus?.version ?? "?"} ` +
        `(${last?.corpus?.items ?? "?"} evidence items) with ${last?.model?.verdict ?? "the verdict model"}.`;
      if (complete)
        statusLine.textContent =
          `Done: ${summary.supported} supported, ${summary.unsupported} unsupported, ${summary.contradicted} contradicted, ` +
          `${summary.not_checkworthy} not check-worthy.`;
    },
  };
  return view;
}

function sentenceNode(s, sentenceText) {
  if (!(s.verdict && LABELS.includes(s.verdict.label)))
    return el("span", { class: "sentence not-checked", "data-index": String(s.index) }, sentenceText);
  const words = describeVerdict(s.verdict);
  sentences.set(s.index, s);
  // Not a Tab stop each: "Next claim" / "Previous claim" (buttons, n / p, Alt+J / Alt+K) move focus here.
  return el(
    "span",
    {
      class: `sentence verdict-${s.verdict.label} state-${words.state}`,
      "data-index": String(s.index),
      "data-label": s.verdict.label,
      "data-state": words.state,
      tabindex: "-1",
      role: "button",
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
      "aria-controls": "evidence-popover",
    },
    el("span", { class: "visually-hidden" }, `${words.headline}: `),
    el("span", { class: "sentence-text" }, sentenceText),
  );
}

// ---- The claims list: every checked claim grouped by verdict, contradicted first; a click goes to it ----

const onlyContradicted = $("only-contradicted");

function showClaims() {
  const groups = new Map(CLAIM_GROUPS.map(([state]) => [state, []]));
  for (const [index, s] of sentences) groups.get(describeVerdict(s.verdict).state)?.push([index, s]);
  const sections = [];
  for (const [state, title] of CLAIM_GROUPS) {
    const members = groups.get(state);
    if (!members.length) continue;
    const list = el("ul", {});
    for (const [index, s] of members) {
      const text = s.text.length > 160 ? `${s.text.slice(0, 157)}…` : s.text;
      const go = el("button", { type: "button", class: "claim-link", "data-index": String(index) }, text);
      list.append(el("li", {}, go));
    }
    sections.push(
      el(
        "section",
        { class: `claim-group state-${state}`, "data-state": state },
        el("h3", {}, `${title} (${members.length})`),
        list,
      ),
    );
  }
  $("claims-list").replaceChildren(...sections);
  $("claims-count").textContent = `(${sentences.size})`;
  filterClaims();
}

function filterClaims() {
  for (const group of $("claims-list").querySelectorAll(".claim-group"))
    group.hidden = onlyContradicted.checked && group.dataset.state !== "contradicted";
}

onlyContradicted.addEventListener("change", filterClaims);
$("claims-list").addEventListener("click", (event) => {
  const go = event.target instanceof Element ? event.target.closest(".claim-link") : null;
  const span = go && docView.querySelector(`.sentence[data-index="${go.dataset.index}"]`);
  if (!span) return;
  span.scrollIntoView({ block: "center" });
  span.focus({ preventScroll: true }); // focus opens its evidence, as Next claim does
});

function showSummary(summary) {
  const total = Object.values(summary).reduce((a, b) => a + b, 0) || 1;
  for (const node of document.querySelectorAll("[data-count]")) node.textContent = String(summary[node.dataset.count] ?? 0);
  for (const node of document.querySelectorAll("[data-part]")) node.style.width = `${(100 * (summary[node.dataset.part] ?? 0)) / total}%`;
}

// ---- The evidence popover ------------------------------------------------------------------------

function safeUrl(raw) {
  try {
    const url = new URL(raw);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

const link = (href, text) => el("a", { href, target: "_blank", rel: "noopener noreferrer" }, text);

function evidenceItem(e, chip, deciding) {
  const item = el("li", { class: deciding ? "deciding" : "" });
  if (e.id) item.dataset.id = e.id;
  if (chip) item.append(el("p", { class: "stance-line" }, el("span", { class: `chip stance-${e.stance}` }, chip)));
  const url = safeUrl(e.source_url);
  const title = e.source_title || e.source_url || "Source";
  const source = el("p", { class: "source" }, url ? link(url, title) : title);
  const where = [e.publisher, e.year].filter(Boolean).join(", ");
  if (where) source.append(` — ${where}`);
  const facts = [];
  if (e.study_type) facts.push(`Study type: ${String(e.study_type).replace(/_/g, " ")}`);
  if (e.grade) facts.push(`GRADE: ${e.grade}`);
  if (typeof e.score === "number") facts.push(`Similarity: ${e.score.toFixed(2)}`);
  const factLine = el("p", { class: "facts" }, facts.join(" · "));
  if (e.doi) factLine.append(" · ", link(`https://doi.org/${encodeURI(e.doi)}`, `DOI ${e.doi}`));
  if (e.pmid) factLine.append(" · ", link(`https://pubmed.ncbi.nlm.nih.gov/${encodeURIComponent(e.pmid)}/`, `PMID ${e.pmid}`));
  item.append(el("p", { class: "statement" }, e.statement || ""), source, factLine);
  return item;
}

function fillPopover(s) {
  const v = s.verdict;
  const words = describeVerdict(v);
  const heading = el(
    "p",
    { class: `verdict state-${words.state}`, id: "evidence-heading" },
    el("span", { class: "icon", "aria-hidden": "true" }, words.icon),
    el("span", { class: "headline" }, words.headline),
  );
  if (words.strength) {
    heading.append(
      el("span", { class: `chip strength strength-${words.strength}`, title: "Evidence strength: from the deciding evidence's GRADE certainty" }, words.strength),
    );
  }
  const close = el("button", { type: "button", class: "close", "aria-label": "Close the evidence" }, "✕");
  close.addEventListener("click", closePopover);
  const parts = [el("div", { class: "popover-head" }, heading, close), el("p", { class: "detail" }, words.detail)];
  if (s.claim) parts.push(el("p", { class: "claim" }, `Checked as: “${s.claim}”`));
  parts.push(el("p", { class: "reason why" }, words.reason));
  const evidence = v.evidence || [];
  const items = words.items.map((i) => evidenceItem(evidence[i.index], i.chip, i.deciding));
  if (words.shown) parts.push(el("ol", { class: "evidence", "aria-label": "Deciding evidence" }, ...items.slice(0, words.shown)));
  const more = items.slice(words.shown);
  if (more.length) {
    const list = el("ol", { class: "evidence", id: "more-evidence", "aria-label": "More evidence", start: String(words.shown + 1) }, ...more);
    list.hidden = true;
    const label = `More evidence (${more.length})`;
    const toggle = el("button", { type: "button", class: "more", "aria-expanded": "false", "aria-controls": "more-evidence" }, label);
    toggle.addEventListener("click", () => {
      list.hidden = !list.hidden;
      toggle.setAttribute("aria-expanded", String(!list.hidden));
      toggle.textContent = list.hidden ? label : `Less evidence (${more.length})`;
      if (open) place(open);
    });
    parts.push(toggle, list);
  }
  if (!evidence.length) parts.push(el("p", { class: "reason" }, "No evidence in the corpus matched this sentence."));
  popover.replaceChildren(...parts);
  popover.setAttribute("aria-labelledby", "evidence-heading");
}

function showPopover(span) {
  clearTimeout(hideTimer);
  if (open !== span) {
    hidePopover();
    fillPopover(sentences.get(Number(span.dataset.index)));
    open = span;
    span.setAttribute("aria-expanded", "true");
  }
  popover.hidden = false;
  place(span);
}

function place(span) {
  const box = span.getBoundingClientRect();
  const width = popover.offsetWidth;
  const height = popover.offsetHeight;
  const left = Math.max(8, Math.min(box.left, document.documentElement.clientWidth - width - 8));
  const fitsBelow = box.bottom + 6 + height <= window.innerHeight || box.top - height - 6 < 0;
  const top = fitsBelow ? box.bottom + 6 : box.top - height - 6;
  popover.style.left = `${left + window.scrollX}px`;
  popover.style.top = `${top + window.scrollY}px`;
}

function hidePopover() {
  clearTimeout(hideTimer);
  if (open) open.setAttribute("aria-expanded", "false");
  open = null;
  popover.hidden = true;
}

let quietFocus = false; // focus went back to the sentence after a close: keep the popover dismissed

/** Close (the ✕ button, Escape): hide the evidence and, if focus was in it, return focus to the sentence. */
function closePopover() {
  const back = open;
  const hadFocus = popover.contains(document.activeElement);
  hidePopover();
  if (back && hadFocus) {
    quietFocus = true;
    back.focus();
  }
}

function hideSoon() {
  clearTimeout(hideTimer);
  hideTimer = setTimeout(hidePopover, 250);
}

const sentenceOf = (target) => (target instanceof Element ? target.closest(".sentence[data-label]") : null);

// ---- Moving between claims: "Next claim" / "Previous claim", n / p, Alt+J / Alt+K ------------------

function moveClaim(step) {
  const claims = [...docView.querySelectorAll(".sentence[data-label]")];
  if (!claims.length || results.hidden) return;
  const current = claims.indexOf(sentenceOf(document.activeElement) ?? open);
  const next = current === -1 ? (step > 0 ? 0 : claims.length - 1) : (current + step + claims.length) % claims.length;
  claims[next].focus();
}

const editable = (target) =>
  target instanceof Element && (target.closest("input, textarea, select, [contenteditable]") !== null || target.isContentEditable);

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.defaultPrevented) return;
  if (event.key === "Escape" && !popover.hidden) {
    closePopover();
    return;
  }
  if (editable(event.target)) return;
  const next = event.altKey ? event.code === "KeyJ" : !event.shiftKey && event.key === "n";
  const previous = event.altKey ? event.code === "KeyK" : !event.shiftKey && event.key === "p";
  if (next || previous) {
    event.preventDefault();
    moveClaim(next ? 1 : -1);
  }
});
$("next-claim").addEventListener("click", () => moveClaim(1));
$("previous-claim").addEventListener("click", () => moveClaim(-1));

docView.addEventListener("mouseover", (event) => {
  const span = sentenceOf(event.target);
  if (span) showPopover(span);
});
docView.addEventListener("mouseout", (event) => {
  if (sentenceOf(event.target) && !popover.contains(event.relatedTarget)) hideSoon();
});
docView.addEventListener("focusin", (event) => {
  const span = sentenceOf(event.target);
  if (span && !quietFocus) showPopover(span);
  quietFocus = false;
});
docView.addEventListener("focusout", (event) => {
  if (!popover.contains(event.relatedTarget)) hideSoon();
});
docView.addEventListener("keydown", (event) => {
  const span = sentenceOf(event.target);
  if (!span) return;
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    showPopover(span);
    popover.focus();
  }
});
docView.addEventListener("scroll", () => open && place(open), { passive: true });
popover.addEventListener("mouseenter", () => clearTimeout(hideTimer));
popover.addEventListener("mouseleave", () => {
  if (!popover.contains(document.activeElement)) hideSoon();
});
popover.addEventListener("focusin", () => clearTimeout(hideTimer));
popover.addEventListener("focusout", (event) => {
  if (!popover.contains(event.relatedTarget) && event.relatedTarget !== open) hideSoon();
});

// ---- What the corpus covers, before anything is checked --------------------------------------------

async function showScope() {
  try {
    const response = await fetch("v1/health", { headers: { Accept: "application/json" } });
    const body = await response.json();
    if (body?.ok) $("scope").textContent = describeScope(body.corpus);
  } catch {
    // The check itself says when the server cannot be reached.
  }
}

form.addEventListener("submit", check);
showScope();
