// The web page: send the pasted text to POST /v1/check and show every sentence by verdict.
// No framework and no build step; all text from the API is set with textContent, never as HTML.

const LABELS = {
  supported: { icon: "✓", name: "Supported" },
  unsupported: { icon: "?", name: "Unsupported" },
  contradicted: { icon: "✗", name: "Contradicted" },
};
// What an "unsupported" rests on (the API's reason_code), so the label never contradicts the evidence shown under it.
const UNSUPPORTED_BECAUSE = {
  not_covered: { icon: "–", name: "Not covered by the evidence corpus" },
  conflicting: { icon: "?", name: "Unsupported: the evidence conflicts" },
  weak_evidence_only: { icon: "?", name: "Unsupported: only very-low-certainty evidence supports it" },
  no_side: { icon: "?", name: "Unsupported: the evidence found takes no side" },
};
const labelInfo = (v) => (v.label === "unsupported" && UNSUPPORTED_BECAUSE[v.reason_code]) || LABELS[v.label];

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

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
  statusLine.textContent = "";
  results.hidden = true; // results of an earlier text must not sit under an error about this one
  hidePopover();
}

async function check(event) {
  event.preventDefault();
  const text = textArea.value;
  errorBox.hidden = true;
  if (!text.trim()) {
    showError("Paste some text to check first.");
    textArea.focus();
    return;
  }
  button.disabled = true;
  statusLine.textContent = "Checking…";
  let response;
  let body;
  try {
    response = await fetch("v1/check", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ text, check_all: $("check-all").checked }),
    });
    body = await response.json().catch(() => null);
  } catch {
    showError("Could not reach the Veracity server. Is it still running? Try again in a moment.");
    return;
  } finally {
    button.disabled = false;
  }
  if (!body || body.ok !== true) {
    const error = body?.error;
    showError(error ? `${error.message} (${error.code})` : `The server answered HTTP ${response.status} without a result.`);
    return;
  }
  render(text, body);
}

function render(text, body) {
  hidePopover();
  sentences = new Map();
  const toUtf16 = codePointToUtf16(text);
  const parts = [];
  let cursor = 0;
  for (const s of [...body.sentences].sort((a, b) => a.start - b.start)) {
    const start = toUtf16(s.start);
    const end = toUtf16(s.end);
    if (start > cursor) parts.push(text.slice(cursor, start));
    const sentenceText = text.slice(start, end);
    if (s.verdict && LABELS[s.verdict.label]) {
      const info = labelInfo(s.verdict);
      const confidence = Math.round(s.verdict.confidence * 100);
      sentences.set(s.index, s);
      parts.push(
        el(
          "span",
          {
            class: `sentence verdict-${s.verdict.label}`,
            "data-index": String(s.index),
            "data-label": s.verdict.label,
            tabindex: "0",
            role: "button",
            "aria-haspopup": "dialog",
            "aria-expanded": "false",
            "aria-controls": "evidence-popover",
          },
          el("span", { class: "icon", "aria-hidden": "true" }, info.icon),
          el("span", { class: "visually-hidden" }, `${info.name}, ${confidence}% confidence: `),
          el("span", { class: "sentence-text" }, sentenceText),
        ),
      );
    } else {
      parts.push(el("span", { class: "sentence not-checked", "data-index": String(s.index) }, sentenceText));
    }
    cursor = Math.max(cursor, end);
  }
  parts.push(text.slice(cursor));
  docView.replaceChildren(...parts);

  const summary = body.summary;
  const total = Object.values(summary).reduce((a, b) => a + b, 0) || 1;
  for (const node of document.querySelectorAll("[data-count]")) node.textContent = String(summary[node.dataset.count] ?? 0);
  for (const node of document.querySelectorAll("[data-part]")) node.style.width = `${(100 * (summary[node.dataset.part] ?? 0)) / total}%`;
  const checked = sentences.size;
  $("meta").textContent =
    `${body.sentences.length} sentences, ${checked} checked against corpus ${body.corpus?.version ?? "?"} ` +
    `(${body.corpus?.items ?? "?"} evidence items) with ${body.model?.verdict ?? "the verdict model"}.`;
  statusLine.textContent =
    `Done: ${summary.supported} supported, ${summary.unsupported} unsupported, ${summary.contradicted} contradicted, ` +
    `${summary.not_checkworthy} not check-worthy.`;
  results.hidden = false;
  // Focus and scroll to the results (on a phone they open below the fold, and focus would drop to the body).
  results.setAttribute("tabindex", "-1");
  results.focus({ preventScroll: true });
  results.scrollIntoView({ block: "start" });
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

function evidenceItem(e) {
  const url = safeUrl(e.source_url);
  const title = e.source_title || e.source_url || "Source";
  const source = el("p", { class: "source" }, url ? link(url, title) : title);
  const where = [e.publisher, e.year].filter(Boolean).join(", ");
  if (where) source.append(` — ${where}`);
  const facts = [];
  if (e.study_type) facts.push(`Study type: ${String(e.study_type).replace(/_/g, " ")}`);
  if (e.grade) facts.push(`GRADE: ${e.grade}`);
  if (e.stance) facts.push(`Stance: ${e.stance}`);
  if (typeof e.score === "number") facts.push(`Similarity: ${e.score.toFixed(2)}`);
  const factLine = el("p", { class: "facts" }, facts.join(" · "));
  if (e.doi) factLine.append(" · ", link(`https://doi.org/${encodeURI(e.doi)}`, `DOI ${e.doi}`));
  if (e.pmid) factLine.append(" · ", link(`https://pubmed.ncbi.nlm.nih.gov/${encodeURIComponent(e.pmid)}/`, `PMID ${e.pmid}`));
  return el("li", {}, el("p", { class: "statement" }, e.statement || ""), source, factLine);
}

function fillPopover(s) {
  const v = s.verdict;
  const info = labelInfo(v);
  const parts = [
    el(
      "p",
      { class: `verdict verdict-${v.label}` },
      el("span", { class: "icon", "aria-hidden": "true" }, info.icon),
      el("span", {}, info.name),
      el("span", { class: "confidence" }, `${Math.round(v.confidence * 100)}% confidence`),
    ),
  ];
  if (s.claim) parts.push(el("p", { class: "claim" }, `Checked as: “${s.claim}”`));
  if (v.reason) parts.push(el("p", { class: "reason" }, v.reason));
  if (v.evidence?.length) {
    parts.push(el("ol", { "aria-label": "Evidence" }, ...v.evidence.map(evidenceItem)));
  } else {
    parts.push(el("p", { class: "reason" }, "No evidence in the corpus matched this sentence."));
  }
  popover.replaceChildren(...parts);
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

function hideSoon() {
  clearTimeout(hideTimer);
  hideTimer = setTimeout(hidePopover, 250);
}

const sentenceOf = (target) => (target instanceof Element ? target.closest(".sentence[tabindex]") : null);

docView.addEventListener("mouseover", (event) => {
  const span = sentenceOf(event.target);
  if (span) showPopover(span);
});
docView.addEventListener("mouseout", (event) => {
  if (sentenceOf(event.target) && !popover.contains(event.relatedTarget)) hideSoon();
});
let quietFocus = false; // Escape returned focus to the sentence: keep the popover dismissed
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
  } else if (event.key === "Escape") {
    hidePopover();
  }
});
docView.addEventListener("scroll", () => open && showPopover(open), { passive: true });
popover.addEventListener("mouseenter", () => clearTimeout(hideTimer));
popover.addEventListener("mouseleave", hideSoon);
popover.addEventListener("focusin", () => clearTimeout(hideTimer));
popover.addEventListener("focusout", (event) => {
  if (!popover.contains(event.relatedTarget) && event.relatedTarget !== open) hideSoon();
});
popover.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    const back = open;
    hidePopover();
    quietFocus = Boolean(back);
    back?.focus();
  }
});

form.addEventListener("submit", check);
