// Veracity's content script, injected into one tab only when the user asks for a check.
//
// It reads the page's readable text (skipping navigation, scripts and hidden parts) into one string
// with a map from every character back to its DOM text node, then wraps each checked sentence's text
// nodes in <veracity-hl> elements. Only text nodes are split and wrapped, never elements moved, and
// clear() puts every split text node back together, so the page's scripts and layout keep working.
// The popover and the status messages live in a shadow root so the page's CSS cannot reach them.

(() => {
  if (globalThis.__veracity) return;
  const ext = globalThis.browser ?? globalThis.chrome;

  // The words for a verdict: lib/wording.js (describeVerdict), injected just before this file; the web page
  // serves an identical copy.
  const { describeVerdict } = globalThis.veracityWording;
  const LABELS = {
    supported: { icon: "✓" },
    unsupported: { icon: "?" },
    contradicted: { icon: "✗" },
  };
  const HL = "veracity-hl";

  // ---- Text extraction ---------------------------------------------------------------------------

  const SKIP_TAGS = new Set([
    "SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE", "HEAD", "TITLE", "META", "LINK", "SVG", "MATH", "CANVAS",
    "IFRAME", "FRAME", "OBJECT", "EMBED", "VIDEO", "AUDIO", "PICTURE", "IMG", "MAP", "NAV", "ASIDE",
    "FOOTER", "FORM", "BUTTON", "SELECT", "OPTION", "TEXTAREA", "INPUT", "LABEL", "DIALOG", "MENU",
    "VERACITY-UI",
  ]);
  const SKIP_ROLES = new Set([
    "navigation", "banner", "contentinfo", "complementary", "search", "menu", "menubar", "toolbar",
    "dialog", "alertdialog", "tablist", "tooltip", "form",
  ]);
  const HEADINGS = new Set(["H1", "H2", "H3", "H4", "H5", "H6"]);
  const INLINE_DISPLAYS = new Set(["inline", "inline-block", "inline-flex", "inline-grid", "contents", "ruby"]);
  const PRE_WHITESPACE = new Set(["pre", "pre-wrap", "pre-line", "break-spaces"]);

  // Reader comments under an article are not the article: left out unless the user asks for them.
  const COMMENTS = /(^|[\s_-])(comments?|comment-list|commentlist|disqus_thread|responses)($|[\s_-])/i;
  let excludeComments = true;

  function isComments(el) {
    return (
      COMMENTS.test(el.id || "") ||
      COMMENTS.test(typeof el.className === "string" ? el.className : "") ||
      el.getAttribute("itemprop") === "comment"
    );
  }

  function skipElement(el, style) {
    if (SKIP_TAGS.has(el.tagName.toUpperCase())) return true;
    if (excludeComments && isComments(el)) return true;
    if (SKIP_ROLES.has((el.getAttribute("role") || "").toLowerCase())) return true;
    if (el.getAttribute("aria-hidden") === "true" || el.hidden) return true;
    if (el.isContentEditable) return true;
    if (el.tagName === "HEADER" && !el.closest("article")) return true; // the site's masthead
    if (style.display === "none" || style.visibility === "hidden" || style.visibility === "collapse") return true;
    if (style.position === "absolute" || style.position === "fixed") {
      const box = el.getBoundingClientRect();
      if (box.width <= 1 || box.height <= 1) return true; // "visually hidden" screen-reader text
    }
    if ((el.tagName === "UL" || el.tagName === "OL") && linkDensity(el) > 0.7) return true; // link lists
    return false;
  }

  function linkDensity(el) {
    const all = el.textContent.replace(/\s+/g, "").length;
    if (!all) return 0;
    let links = 0;
    for (const a of el.querySelectorAll("a")) links += a.textContent.replace(/\s+/g, "").length;
    return links / all;
  }

  function visibleText(el) {
    return (el.innerText || "").replace(/\s+/g, " ").trim().length;
  }

  /** The element holding the article: one <main>, else one dominant <article>, else <body>. */
  function chooseRoot() {
    const mains = [...document.querySelectorAll("main, [role=main]")].filter((el) => visibleText(el) > 0);
    if (mains.length === 1) return mains[0];
    const articles = [...document.querySelectorAll("article, [itemprop=articleBody]")]
      .filter((el) => !el.parentElement?.closest("article"))
      .map((el) => ({ el, size: visibleText(el) }))
      .filter((a) => a.size > 0)
      .sort((a, b) => b.size - a.size);
    const total = articles.reduce((sum, a) => sum + a.size, 0);
    if (articles.length && articles[0].size >= 0.6 * total) return articles[0].el;
    return document.body;
  }

  /**
   * The readable text, and `runs`: each run maps text[t, t+len) onto node.data[o, o+nodeLen). A run of
   * collapsed whitespace is one space in the text (len 1) standing for nodeLen characters of the node.
   */
  function extract() {
    const runs = [];
    let text = "";
    const lastChar = () => text[text.length - 1];
    const newline = () => {
      if (lastChar() === " ") {
        text = text.slice(0, -1); // a trailing space before a line break maps to nothing worth sending
        const last = runs[runs.length - 1];
        if (last && last.t + last.len > text.length) runs.pop(); // not the "# " of a heading: that has no run
      }
      if (text && lastChar() !== "\n") text += "\n";
    };

    function emitText(node, pre) {
      const data = node.data;
      const parts = data.matchAll(pre ? /(\n)|[ \t\r\f]+|[^ \t\n\r\f]+/g : /()[ \t\n\r\f]+|[^ \t\n\r\f]+/g);
      for (const match of parts) {
        const piece = match[0];
        const at = match.index;
        if (match[1] === "\n") {
          newline();
        } else if (/^[ \t\n\r\f]/.test(piece)) {
          if (!text || lastChar() === " " || lastChar() === "\n") continue;
          runs.push({ t: text.length, len: 1, node, o: at, nodeLen: piece.length });
          text += " ";
        } else {
          runs.push({ t: text.length, len: piece.length, node, o: at, nodeLen: piece.length });
          text += piece;
        }
      }
    }

    function walk(parent, pre) {
      for (let child = parent.firstChild; child; child = child.nextSibling) {
        if (child.nodeType === Node.TEXT_NODE) {
          if (child.data) emitText(child, pre);
        } else if (child.nodeType === Node.ELEMENT_NODE) {
          if (child.tagName === "BR") {
            newline();
            continue;
          }
          const style = getComputedStyle(child);
          if (skipElement(child, style)) continue;
          const block = !INLINE_DISPLAYS.has(style.display);
          if (block) newline();
          // Sent as a heading ("# Title", as Markdown): the API never checks a heading as a claim, so a page's
          // headline gets no verdict. The marker maps to no node (no run), like the line breaks.
          if (HEADINGS.has(child.tagName)) text += "# ";
          walk(child, PRE_WHITESPACE.has(style.whiteSpace) || style.whiteSpaceCollapse === "preserve");
          if (block) newline();
        }
      }
    }

    const root = chooseRoot();
    walk(root, false);
    return { text, runs, root, lengths: new Map(runs.map((r) => [r.node, r.node.data.length])) };
  }

  // ---- Mapping offsets back to text nodes and wrapping them ----------------------------------------

  let page = null; // the last extract(): {text, runs, lengths}
  const fragments = new Map(); // original text node -> [{node, offset}] after splits, sorted by offset
  const marks = [];
  const sentences = new Map(); // sentence id -> {verdict, text, marks}
  let nextId = 0;

  /** The first run that ends after text offset `at`. */
  function firstRunAfter(at) {
    let lo = 0;
    let hi = page.runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const run = page.runs[mid];
      if (run.t + run.len <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** [{node, start, end}] in the original text nodes for text[start, end). */
  function nodeRanges(start, end) {
    const ranges = [];
    for (let i = firstRunAfter(start); i < page.runs.length && page.runs[i].t < end; i++) {
      const run = page.runs[i];
      let from;
      let to;
      if (run.len === 1 && run.nodeLen !== 1) {
        from = run.o; // collapsed whitespace: all of it
        to = run.o + run.nodeLen;
      } else {
        from = run.o + Math.max(0, start - run.t);
        to = run.o + Math.min(run.len, end - run.t);
      }
      const last = ranges[ranges.length - 1];
      if (last && last.node === run.node && last.end === from) last.end = to;
      else ranges.push({ node: run.node, start: from, end: to });
    }
    return ranges;
  }

  function pieces(original) {
    if (!fragments.has(original)) fragments.set(original, [{ node: original, offset: 0 }]);
    return fragments.get(original);
  }

  /** The text the page holds now for an original node's range, or null when the page changed it. */
  function currentText(range) {
    const frags = pieces(range.node);
    const now = frags.reduce((sum, f) => sum + f.node.data.length, 0);
    if (now !== page.lengths.get(range.node) || !frags.every((f) => f.node.isConnected)) return null;
    let out = "";
    for (const f of frags) {
      const a = Math.max(range.start, f.offset);
      const b = Math.min(range.end, f.offset + f.node.data.length);
      if (a < b) out += f.node.data.slice(a - f.offset, b - f.offset);
    }
    return out;
  }

  /** Wrap original-node characters [start, end) in marks, splitting the current fragments as needed. */
  function wrap(range, makeMark) {
    const frags = pieces(range.node);
    const made = [];
    for (let i = 0; i < frags.length; i++) {
      let frag = frags[i];
      const fragEnd = frag.offset + frag.node.data.length;
      const a = Math.max(range.start, frag.offset);
      const b = Math.min(range.end, fragEnd);
      if (a >= b) continue;
      if (b < fragEnd) {
        const after = frag.node.splitText(b - frag.offset);
        frags.splice(i + 1, 0, { node: after, offset: b });
      }
      if (a > frag.offset) {
        const middle = frag.node.splitText(a - frag.offset);
        frag = { node: middle, offset: a };
        frags.splice(i + 1, 0, frag);
        i += 1;
      }
      const mark = makeMark();
      frag.node.parentNode.insertBefore(mark, frag.node);
      mark.appendChild(frag.node);
      made.push(mark);
    }
    return made;
  }

  const collapse = (s) => s.replace(/\s+/g, " ").trim();

  function highlight(checked) {
    let placed = 0;
    let unplaced = 0;
    const listed = []; // for the side panel's claims list: what each placed highlight says, by its id
    for (const sentence of checked) {
      const ranges = nodeRanges(sentence.start, sentence.end);
      const now = ranges.map(currentText);
      if (!ranges.length || now.includes(null) || collapse(now.join("")) !== collapse(sentence.text)) {
        unplaced += 1; // the page changed since it was read, or the offsets do not fit: leave it alone
        continue;
      }
      const id = nextId++;
      const label = sentence.verdict.label;
      const words = describeVerdict(sentence.verdict);
      const made = [];
      for (const range of ranges) {
        made.push(
          ...wrap(range, () => {
            const mark = document.createElement(HL);
            mark.className = `${HL} ${HL}-${label} ${HL}-state-${words.state}`;
            mark.dataset.veracitySentence = String(id);
            mark.dataset.veracityLabel = label;
            mark.dataset.veracityState = words.state;
            return mark;
          }),
        );
      }
      const first = made[0];
      first.dataset.veracityFirst = "";
      first.tabIndex = -1; // not a Tab stop each: Next / Previous claim (Alt+J / Alt+K) move focus here
      first.setAttribute("role", "button");
      first.setAttribute("aria-haspopup", "dialog");
      first.setAttribute("aria-expanded", "false");
      first.setAttribute("aria-label", `${words.headline}: ${collapse(sentence.text)}`);
      marks.push(...made);
      sentences.set(id, { ...sentence, marks: made });
      listed.push({ id, text: collapse(sentence.text), state: words.state, headline: words.headline });
      placed += 1;
    }
    return { placed, unplaced, claims: listed };
  }

  function clear() {
    stopWatching();
    hidePopover();
    for (const mark of marks) {
      if (mark.parentNode) mark.replaceWith(...mark.childNodes);
    }
    for (const [original, frags] of fragments) {
      // Merge the split pieces back into the original node, which the page may still hold on to.
      for (const frag of frags.slice(1)) {
        if (original.nextSibling === frag.node) {
          original.appendData(frag.node.data);
          frag.node.remove();
        }
      }
    }
    marks.length = 0;
    fragments.clear();
    sentences.clear();
    page = null;
    ui.banner.hidden = true;
    return true;
  }

  // ---- The shadow-root UI: status banner and evidence popover --------------------------------------

  const UI_CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    .banner, .popover {
      position: fixed; z-index: 2147483647; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
      color: #1a1a1a; background: #fff; border: 1px solid #6b6b6b; border-radius: 8px;
      box-shadow: 0 6px 24px rgba(0,0,0,.25); text-align: left;
    }
    [hidden] { display: none !important; }
    .banner { bottom: 12px; right: 12px; width: min(380px, calc(100vw - 24px)); max-height: 45vh; overflow: auto; padding: 12px 14px; }
    .banner .fold { float: right; margin-right: 6px; }
    .banner[data-folded] { width: auto; max-width: min(360px, calc(100vw - 24px)); padding: 4px 12px; border-radius: 18px; }
    .banner[data-folded] > :not(h2, .fold, .close, .counts) { display: none; }
    .banner[data-folded] h2 { font-size: 12px; margin: 0; }
    .banner[data-folded] .counts { flex-wrap: nowrap; white-space: nowrap; gap: 0 10px; font-size: 12px; margin: 0; }
    .banner[data-folded] .counts li:last-child { display: none; } /* "not check-worthy": the card has it */
    .banner[data-folded] button { padding: 0 6px; font-size: 12px; }
    .banner[data-kind="error"] { border: 2px solid #a4001d; }
    .banner h2 { margin: 0 0 4px; font-size: 14px; font-weight: 700; }
    .banner p { margin: 4px 0; }
    .banner progress { width: 100%; height: 8px; }
    .banner .actions { display: flex; gap: 8px; margin-top: 8px; flex-wrap: wrap; }
    button { font: inherit; padding: 3px 10px; border: 1px solid #444; border-radius: 5px; background: #f3f3f3; color: #111; cursor: pointer; }
    button:focus-visible, a:focus-visible, .popover:focus-visible { outline: 3px solid #1d4ed8; outline-offset: 2px; }
    .counts { display: flex; flex-wrap: wrap; gap: 2px 14px; margin: 4px 0 0; padding: 0; list-style: none; }
    .counts li { margin: 0; }
    .popover { width: min(460px, calc(100vw - 16px)); max-height: min(60vh, 420px); overflow: auto; padding: 12px 14px; }
    .popover-head { display: flex; align-items: flex-start; gap: 8px; }
    .verdict { flex: 1; display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 8px; margin: 0 0 2px; font-size: 15px; font-weight: 700; }
    .badge { display: inline-block; min-width: 1.6em; text-align: center; border-radius: 4px; padding: 0 4px; border: 1px solid currentColor; }
    .supported, .state-supported, .stance-supports { color: #0b5d1e; }
    .unsupported, .state-not_enough, .state-mixed { color: #7a4100; }
    .contradicted, .state-contradicted, .stance-contradicts { color: #a4001d; }
    .state-not_covered { color: #1a1a1a; }
    .chip { display: inline-block; padding: 0 8px; border: 1px solid currentColor; border-radius: 999px; font-size: 12px; font-weight: 600; line-height: 1.6; }
    .chip.strength, .chip.stance-neutral { color: #3d3d3d; }
    .detail { margin: 0 0 8px; color: #3d3d3d; font-size: 12px; }
    .reason { margin: 0 0 8px; color: #333; }
    .popover ol { margin: 0; padding-left: 20px; }
    .popover li { margin: 0 0 10px; }
    .statement { margin: 0 0 2px; }
    .meta { margin: 0; color: #3d3d3d; font-size: 13px; }
    .stance-line { margin: 0 0 2px; }
    .more { margin: 0 0 8px; font-size: 13px; }
    a { color: #0b4fc2; text-decoration: underline; }
    .close { float: right; margin-left: 8px; }
    .popover .close { float: none; flex: none; }
    @media (prefers-color-scheme: dark) {
      .banner, .popover { color: #ececec; background: #1b1d20; border-color: #5a5f66; }
      button { background: #2b2e33; color: #ececec; border-color: #777; }
      .supported, .state-supported, .stance-supports { color: #4ade80; }
      .unsupported, .state-not_enough, .state-mixed { color: #fbbf24; }
      .contradicted, .state-contradicted, .stance-contradicts { color: #fca5a5; }
      .state-not_covered { color: #ececec; }
      .reason, .meta, .detail, .chip.strength, .chip.stance-neutral { color: #c2c2c2; }
      a { color: #8ab4ff; }
    }
    /* On a phone the evidence is a bottom sheet: full width, from the bottom edge. */
    @media (max-width: 600px) {
      .popover { left: 0 !important; right: 0; top: auto !important; bottom: 0; width: auto; max-height: 60vh; border-radius: 12px 12px 0 0; }
    }
`;

  const ui = (() => {
    const host = document.createElement("veracity-ui");
    const root = host.attachShadow({ mode: "open" });
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(UI_CSS);
      root.adoptedStyleSheets = [sheet]; // not subject to the page's style-src CSP
    } catch {
      const style = document.createElement("style");
      style.textContent = UI_CSS;
      root.append(style);
    }
    const banner = el("section", { class: "banner", hidden: "", "aria-label": "Veracity" });
    const popover = el("section", { class: "popover", hidden: "", role: "dialog", "aria-label": "Veracity evidence", tabindex: "-1" });
    root.append(banner, popover);
    document.documentElement.append(host);
    return { host, root, banner, popover };
  })();

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    for (const child of children) node.append(child);
    return node;
  }

  function safeUrl(raw) {
    try {
      const url = new URL(raw);
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch {
      return null;
    }
  }

  function link(href, text) {
    return el("a", { href, target: "_blank", rel: "noopener noreferrer" }, text);
  }

  function showBanner(kind, title, ...body) {
    const { banner } = ui;
    banner.replaceChildren();
    banner.dataset.kind = kind;
    banner.setAttribute("role", kind === "error" ? "alert" : "status");
    const close = el("button", { class: "close", type: "button", "aria-label": "Close Veracity message" }, "✕");
    close.addEventListener("click", () => (banner.hidden = true));
    // The card sits in the bottom corner; "–" folds it to a pill (title and counts) that covers next to nothing.
    const fold = el("button", { class: "fold", type: "button", "aria-expanded": "true", "aria-label": "Fold the Veracity card" }, "–");
    fold.addEventListener("click", () => {
      const folded = banner.toggleAttribute("data-folded");
      fold.setAttribute("aria-expanded", String(!folded));
      fold.setAttribute("aria-label", folded ? "Open the Veracity card" : "Fold the Veracity card");
      fold.textContent = folded ? "+" : "–";
    });
    banner.removeAttribute("data-folded");
    banner.append(close, fold, el("h2", {}, title), ...body);
    banner.hidden = false;
  }

  function countsList(summary) {
    const list = el("ul", { class: "counts" });
    for (const [label, info] of Object.entries(LABELS)) {
      list.append(el("li", { class: label }, `${info.icon} ${summary[label] ?? 0} ${label}`));
    }
    list.append(el("li", {}, `– ${summary.not_checkworthy ?? 0} not check-worthy`));
    return list;
  }

  function begin(apiUrl) {
    if (marks.length) clear();
    const bar = el("progress", { max: "100", value: "0", "aria-label": "Checking progress" });
    const cancel = el("button", { type: "button", class: "cancel" }, "Cancel");
    cancel.addEventListener("click", () => {
      cancel.disabled = true;
      ext.runtime.sendMessage({ type: "veracity:cancel" });
    });
    showBanner(
      "progress",
      "Veracity is checking this page…",
      el("p", { class: "detail" }, `Sending the text to ${apiUrl}`),
      bar,
      el("div", { class: "actions" }, cancel),
    );
    return true;
  }

  function extractForCheck(options = {}) {
    excludeComments = options.excludeComments ?? true;
    stopWatching();
    page = extract();
    return { text: page.text, loading: document.readyState !== "complete" };
  }

  // ---- Pages that change after the check: re-rendered, or more content loaded -----------------------

  let watcher = null;
  let changeTimer = null;

  /** After a check: watch the article; when highlights go or text comes, say so and offer to check again. */
  function watchChanges() {
    stopWatching();
    if (!page?.root) return;
    const checkedLength = page.root.innerText.length;
    watcher = new MutationObserver(() => {
      clearTimeout(changeTimer);
      changeTimer = setTimeout(() => pageChanged(checkedLength), 400); // a re-render is many mutations
    });
    watcher.observe(page.root.isConnected ? page.root : document.body, { childList: true, subtree: true, characterData: true });
  }

  function stopWatching() {
    watcher?.disconnect();
    watcher = null;
    clearTimeout(changeTimer);
  }

  function pageChanged(checkedLength) {
    const total = sentences.size;
    const remaining = [...sentences.values()].filter((s) => s.marks[0].isConnected).length;
    const root = page?.root?.isConnected ? page.root : chooseRoot();
    const grown = root.innerText.length - checkedLength > 200;
    if (remaining === total && !grown) return; // a page script touched something else: the check still stands
    stopWatching();
    const checkAgain = el("button", { type: "button", class: "check-again" }, remaining === total ? "Check new content" : "Check again");
    checkAgain.addEventListener("click", () => ext.runtime.sendMessage({ type: "veracity:check" }));
    const what =
      remaining < total
        ? `The page changed after it was checked: ${remaining} of ${total} highlights are still on it.`
        : "More content has loaded since the page was checked; it has no highlights yet.";
    showBanner("changed", "Page changed — check again", el("p", {}, what), el("div", { class: "actions" }, checkAgain));
    ext.runtime.sendMessage({ type: "veracity:page-changed", remaining, total, grown });
  }

  /** What a check would send, before anything is sent: for the first-use card. */
  function preview(options = {}) {
    excludeComments = options.excludeComments ?? true;
    const { text } = extract();
    const words = (text.match(/\S+/g) || []).length;
    return { origin: location.origin, host: location.host, words, preview: text.slice(0, 600) };
  }

  function progress({ fraction, chunks, claims = 0, secondsLeft = 0 }) {
    const bar = ui.banner.querySelector("progress");
    const detail = ui.banner.querySelector(".detail");
    const percent = Math.round(fraction * 100);
    if (bar) bar.value = percent;
    if (detail)
      detail.textContent =
        `Checked ${percent}% of the text · ${claims} ${claims === 1 ? "claim" : "claims"} so far` +
        (secondsLeft ? ` · about ${secondsLeft} s left` : "") +
        ` (${chunks} ${chunks === 1 ? "part" : "parts"} sent).`;
    return true;
  }

  /** Next / Previous claim and Clear: the same buttons after a finished and after a cancelled check. */
  function claimActions(placed) {
    const previous = el("button", { type: "button", class: "previous-claim" }, "Previous claim");
    const next = el("button", { type: "button", class: "next-claim" }, "Next claim");
    previous.addEventListener("click", () => moveClaim(-1));
    next.addEventListener("click", () => moveClaim(1));
    const clearButton = el("button", { type: "button" }, "Clear highlights");
    clearButton.addEventListener("click", () => {
      clear();
      ext.runtime.sendMessage({ type: "veracity:cleared" });
    });
    return el("div", { class: "actions" }, ...(placed ? [previous, next] : []), clearButton);
  }

  function cancelled({ summary, placed, message }) {
    showBanner("cancelled", "Veracity stopped checking this page", countsList(summary), el("p", {}, message), claimActions(placed));
    watchChanges();
    return true;
  }

  function finish({ summary, placed, unplaced, chunks, loading = false }) {
    const parts = [countsList(summary)];
    if (loading)
      parts.push(el("p", { class: "warning" }, "The page was still loading when it was read: check again once it has finished."));
    const note = `${placed} sentence${placed === 1 ? "" : "s"} highlighted` +
      (unplaced ? `; ${unplaced} could not be placed because the page changed` : "") +
      (chunks > 1 ? `; sent in ${chunks} parts` : "") +
      ". Hover a highlight for its evidence, or move between claims with Alt+J (next) and Alt+K (previous).";
    parts.push(el("p", {}, note), claimActions(placed));
    showBanner("done", "Veracity checked this page", ...parts);
    watchChanges();
    return true;
  }

  function fail({ kind, message, placed }) {
    const parts = [el("p", { class: "message" }, message)];
    if (placed) parts.push(el("p", {}, `${placed} sentences were highlighted before the error.`));
    if (kind === "unreachable" || kind === "bad_response" || kind === "api_error") {
      const options = el("button", { type: "button" }, "Open Veracity options");
      options.addEventListener("click", () => ext.runtime.sendMessage({ type: "veracity:open-options" }));
      parts.push(el("div", { class: "actions" }, options));
    }
    const title = {
      unreachable: "Veracity cannot reach its API",
      api_error: "The Veracity API returned an error",
      bad_response: "Unexpected answer from the API address",
      no_text: "No readable text on this page",
      off: "Veracity is off on this site",
    }[kind] || "Veracity could not check this page";
    showBanner("error", title, ...parts);
    return true;
  }

  // ---- Popover: hover or focus a highlight -----------------------------------------------------------

  let shownId = null;
  let shownAnchor = null;
  let hideTimer = null;

  function evidenceItem(e, chip, deciding) {
    const item = el("li", deciding ? { class: "deciding" } : {});
    if (e.id) item.dataset.id = e.id;
    if (chip) item.append(el("p", { class: "stance-line" }, el("span", { class: `chip stance-${e.stance}` }, chip)));
    item.append(el("p", { class: "statement" }, e.statement || ""));
    const source = el("p", { class: "meta" });
    const url = safeUrl(e.source_url);
    const title = e.source_title || e.source_url || "Source";
    source.append(url ? link(url, title) : title);
    const where = [e.publisher, e.year].filter(Boolean).join(", ");
    if (where) source.append(` — ${where}`);
    item.append(source);
    const facts = [];
    if (e.study_type) facts.push(`Study type: ${String(e.study_type).replace(/_/g, " ")}`);
    if (e.grade) facts.push(`GRADE: ${e.grade}`);
    if (typeof e.score === "number") facts.push(`Similarity: ${e.score.toFixed(2)}`);
    const ids = el("p", { class: "meta" }, facts.join(" · "));
    if (e.doi) ids.append(" · ", link(`https://doi.org/${encodeURI(e.doi)}`, `DOI ${e.doi}`));
    if (e.pmid) ids.append(" · ", link(`https://pubmed.ncbi.nlm.nih.gov/${encodeURIComponent(e.pmid)}/`, `PMID ${e.pmid}`));
    item.append(ids);
    return item;
  }

  function fillPopover(sentence) {
    const { verdict } = sentence;
    const words = describeVerdict(verdict);
    const pop = ui.popover;
    pop.replaceChildren();
    pop.dataset.label = verdict.label;
    pop.dataset.state = words.state;
    const heading = el(
      "p",
      { class: `verdict state-${words.state}`, id: "veracity-heading" },
      el("span", { class: "badge", "aria-hidden": "true" }, words.icon),
      el("span", { class: "headline" }, words.headline),
    );
    if (words.strength) {
      heading.append(
        el("span", { class: `chip strength strength-${words.strength}`, title: "Evidence strength: from the deciding evidence's GRADE certainty" }, words.strength),
      );
    }
    const close = el("button", { type: "button", class: "close", "aria-label": "Close the evidence" }, "✕");
    close.addEventListener("click", closePopover);
    pop.append(el("div", { class: "popover-head" }, heading, close), el("p", { class: "detail" }, words.detail));
    pop.setAttribute("aria-labelledby", "veracity-heading");
    if (sentence.claim) pop.append(el("p", { class: "reason" }, `Checked as: “${sentence.claim}”`));
    pop.append(el("p", { class: "reason why" }, words.reason));
    const evidence = verdict.evidence || [];
    const items = words.items.map((i) => evidenceItem(evidence[i.index], i.chip, i.deciding));
    if (words.shown) pop.append(el("ol", { class: "evidence", "aria-label": "Deciding evidence" }, ...items.slice(0, words.shown)));
    const more = items.slice(words.shown);
    if (more.length) {
      const list = el("ol", { class: "evidence", id: "veracity-more", "aria-label": "More evidence", start: String(words.shown + 1) }, ...more);
      list.hidden = true;
      const label = `More evidence (${more.length})`;
      const toggle = el("button", { type: "button", class: "more", "aria-expanded": "false", "aria-controls": "veracity-more" }, label);
      toggle.addEventListener("click", () => {
        list.hidden = !list.hidden;
        toggle.setAttribute("aria-expanded", String(!list.hidden));
        toggle.textContent = list.hidden ? label : `Less evidence (${more.length})`;
        if (shownAnchor) place(shownAnchor);
      });
      pop.append(toggle, list);
    }
    if (!evidence.length) pop.append(el("p", { class: "meta" }, "No evidence in the corpus matched this sentence."));
  }

  function place(anchor) {
    const pop = ui.popover;
    const box = anchor.getBoundingClientRect();
    const width = pop.offsetWidth;
    const height = pop.offsetHeight;
    const left = Math.min(Math.max(8, box.left), window.innerWidth - width - 8);
    const below = box.bottom + 6;
    const top = below + height <= window.innerHeight - 8 || box.top - height - 6 < 8 ? below : box.top - height - 6;
    pop.style.left = `${Math.max(8, left)}px`;
    pop.style.top = `${Math.max(8, top)}px`;
  }

  function setActive(id, on) {
    for (const mark of sentences.get(id)?.marks || []) mark.classList.toggle(`${HL}-active`, on);
  }

  function showPopover(id, anchor) {
    clearTimeout(hideTimer);
    const sentence = sentences.get(id);
    if (!sentence) return;
    if (shownId !== id) {
      if (shownId !== null) hidePopover();
      fillPopover(sentence);
      shownId = id;
    }
    ui.popover.hidden = false;
    shownAnchor = anchor;
    place(anchor);
    setActive(id, true);
    sentence.marks[0].setAttribute("aria-expanded", "true");
  }

  function hidePopover() {
    clearTimeout(hideTimer);
    if (shownId === null) return;
    setActive(shownId, false);
    sentences.get(shownId)?.marks[0].setAttribute("aria-expanded", "false");
    ui.popover.hidden = true;
    shownId = null;
    shownAnchor = null;
  }

  const hideSoon = () => {
    clearTimeout(hideTimer);
    hideTimer = setTimeout(hidePopover, 250);
  };

  const markOf = (target) => (target instanceof Element ? target.closest(HL) : null);
  const idOf = (mark) => Number(mark.dataset.veracitySentence);
  let quietFocus = false; // focus went back to the sentence after a close: keep the popover dismissed

  /** Close (the ✕ button, Escape): hide the evidence and, if focus was in it, return focus to the sentence. */
  function closePopover() {
    if (shownId === null) return;
    const back = sentences.get(shownId)?.marks[0];
    const hadFocus = document.activeElement === ui.host;
    hidePopover();
    if (back && hadFocus) {
      quietFocus = true;
      back.focus();
    }
  }

  /** Focus the next (step 1) or previous (-1) highlighted claim, which opens its evidence. */
  /** The side panel's "go to this claim": scroll it into view and focus it, which opens its evidence. */
  function focusClaim(id) {
    const sentence = sentences.get(id);
    if (!sentence) return false;
    sentence.marks[0].scrollIntoView({ block: "center" });
    sentence.marks[0].focus({ preventScroll: true });
    return true;
  }

  function moveClaim(step) {
    const ids = [...sentences.keys()].sort((a, b) => a - b);
    if (!ids.length) return;
    const active = markOf(document.activeElement);
    const current = ids.indexOf(active ? idOf(active) : shownId);
    const next = current === -1 ? (step > 0 ? 0 : ids.length - 1) : (current + step + ids.length) % ids.length;
    sentences.get(ids[next]).marks[0].focus();
  }

  const editable = (target) =>
    target instanceof Element && (target.closest("input, textarea, select, [contenteditable]") !== null || target.isContentEditable);

  document.addEventListener("mouseover", (event) => {
    const mark = markOf(event.target);
    if (mark) showPopover(idOf(mark), mark);
  }, true);
  document.addEventListener("mouseout", (event) => {
    const mark = markOf(event.target);
    if (mark && !markOf(event.relatedTarget)) hideSoon();
  }, true);
  document.addEventListener("focusin", (event) => {
    const mark = markOf(event.target);
    if (mark && !quietFocus) showPopover(idOf(mark), mark);
    quietFocus = false;
  }, true);
  document.addEventListener("focusout", (event) => {
    const mark = markOf(event.target);
    if (mark && event.relatedTarget !== ui.host) hideSoon();
  }, true);
  document.addEventListener("keydown", (event) => {
    if (!sentences.size || event.ctrlKey || event.metaKey) return;
    if (event.key === "Escape" && shownId !== null) {
      closePopover();
      return;
    }
    // Alt+J / Alt+K only: single letters would take over the page's own shortcuts.
    if (event.altKey && (event.code === "KeyJ" || event.code === "KeyK") && !editable(event.composedPath()[0])) {
      event.preventDefault();
      event.stopPropagation();
      moveClaim(event.code === "KeyJ" ? 1 : -1);
      return;
    }
    const mark = markOf(event.target);
    if (mark && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault(); // Enter opens the evidence rather than following a link the sentence sits in
      showPopover(idOf(mark), mark);
      ui.popover.focus();
    }
  }, true);
  ui.popover.addEventListener("mouseenter", () => clearTimeout(hideTimer));
  ui.popover.addEventListener("mouseleave", () => {
    if (document.activeElement !== ui.host) hideSoon();
  });
  ui.popover.addEventListener("focusout", (event) => {
    if (!ui.popover.contains(event.relatedTarget)) hideSoon();
  });
  ui.popover.addEventListener("focusin", () => clearTimeout(hideTimer));
  const follow = () => {
    if (shownAnchor) place(shownAnchor);
  };
  window.addEventListener("scroll", follow, { passive: true, capture: true });
  window.addEventListener("resize", follow, { passive: true });

  globalThis.__veracity = {
    begin,
    extract: extractForCheck,
    highlight,
    progress,
    finish,
    cancelled,
    fail,
    clear,
    focusClaim,
    preview,
  };
})();
