// The service worker: runs a check for a tab when the user asks (toolbar popup or keyboard shortcut).
//
// It injects the content script into that one tab (activeTab + scripting: no standing access to any
// site), gets the page's readable text from it, sends the text to the configured Veracity API in
// chunks, and hands each chunk's verdicts back to the content script to highlight. The per-tab state
// in storage.session is what the popup shows.

import { ApiError, checkInChunks, codePointToUtf16, getSettings } from "./lib/api.js";
import { getExcludeComments, siteChoice } from "./lib/sites.js";

const ext = globalThis.browser ?? globalThis.chrome;
const running = new Map(); // tabId -> the AbortController of the check in progress (Cancel aborts it)
const LABELS = ["supported", "unsupported", "contradicted"];

const stateKey = (tabId) => `tab:${tabId}`;

async function setState(tabId, state) {
  await ext.storage.session.set({ [stateKey(tabId)]: { ...state, tabId, updatedAt: Date.now() } });
}

/** Run `method(...args)` on the content script's `__veracity` object in the tab's top frame. */
async function callPage(tabId, method, ...args) {
  const [result] = await ext.scripting.executeScript({
    target: { tabId },
    func: (name, params) => globalThis.__veracity[name](...params),
    args: [method, args],
  });
  return result?.result;
}

async function injectContentScript(tabId) {
  try {
    const [probe] = await ext.scripting.executeScript({ target: { tabId }, func: () => Boolean(globalThis.__veracity) });
    if (probe?.result) return; // already there from an earlier check of this page
    await ext.scripting.insertCSS({ target: { tabId }, files: ["content/highlight.css"] });
    // wording.js first: it sets globalThis.veracityWording, which content.js reads (same file as the web page's).
    await ext.scripting.executeScript({ target: { tabId }, files: ["lib/wording.js", "content/content.js"] });
  } catch {
    throw new ApiError(
      "page",
      "Veracity cannot read this page: the browser does not let extensions into its own pages, the extension store or local files. Open the article in a normal tab and try again.",
    );
  }
}

/** Only what the page needs to draw a highlight and its popover. */
function slimSentence(sentence, toUtf16, chunkStart) {
  const v = sentence.verdict;
  return {
    index: sentence.index,
    text: sentence.text,
    start: chunkStart + toUtf16(sentence.start),
    end: chunkStart + toUtf16(sentence.end),
    claim: sentence.claim || null,
    priority: sentence.priority ?? null,
    verdict: {
      label: v.label,
      confidence: v.confidence,
      reason: v.reason,
      reason_code: v.reason_code,
      method: v.method,
      driven_by: v.driven_by ?? null,
      evidence: (v.evidence || []).map((e) => ({
        id: e.id,
        statement: e.statement,
        source_title: e.source_title,
        source_url: e.source_url,
        pmid: e.pmid,
        doi: e.doi,
        publisher: e.publisher,
        year: e.year,
        study_type: e.study_type,
        grade: e.grade,
        stance: e.stance,
        score: e.score,
      })),
    },
  };
}

export async function checkTab(tabId) {
  if (running.has(tabId)) return;
  const controller = new AbortController();
  running.set(tabId, controller);
  const keepAlive = setInterval(() => ext.runtime.getPlatformInfo(), 20_000); // long checks outlive the 30 s idle timer
  const settings = await getSettings();
  const summary = { supported: 0, unsupported: 0, contradicted: 0, not_checkworthy: 0 };
  let placed = 0;
  let unplaced = 0;
  let claims = 0;
  const listed = []; // every placed claim, for the side panel
  let fraction = 0;
  const startedAt = Date.now();
  try {
    await setState(tabId, { state: "checking", progress: 0, apiUrl: settings.apiUrl });
    await injectContentScript(tabId);
    await callPage(tabId, "begin", settings.apiUrl);
    const page = await callPage(tabId, "extract", { excludeComments: await getExcludeComments() });
    if (!page || !page.text.trim()) {
      throw new ApiError("no_text", "Veracity found no readable text on this page: no article, paragraphs or headings outside navigation and hidden parts.");
    }
    const total = page.text.length;
    const onPart = async ({ start, end, response, chunks: done }) => {
      const chunkText = page.text.slice(start, end);
      const toUtf16 = codePointToUtf16(chunkText);
      const checked = response.sentences.filter((s) => s.verdict && LABELS.includes(s.verdict.label));
      for (const [key, count] of Object.entries(response.summary || {})) {
        if (key in summary) summary[key] += count;
      }
      const result = await callPage(tabId, "highlight", checked.map((s) => slimSentence(s, toUtf16, start)));
      placed += result?.placed ?? 0;
      unplaced += result?.unplaced ?? 0;
      listed.push(...(result?.claims ?? []));
      claims += checked.length;
      fraction = end / total;
      const elapsed = (Date.now() - startedAt) / 1000;
      const secondsLeft = fraction < 1 ? Math.max(1, Math.round((elapsed * (1 - fraction)) / fraction)) : 0;
      await callPage(tabId, "progress", { fraction, chunks: done, summary, claims, secondsLeft });
      await setState(tabId, { state: "checking", progress: fraction, chunks: done, summary, claims: listed, apiUrl: settings.apiUrl });
    };
    const { chunks } = await checkInChunks(settings, page.text, onPart, { signal: controller.signal });
    await callPage(tabId, "finish", { summary, placed, unplaced, chunks, loading: page.loading });
    await setState(tabId, {
      state: "done",
      summary,
      placed,
      unplaced,
      chunks,
      claims: listed,
      loading: page.loading,
      apiUrl: settings.apiUrl,
    });
  } catch (error) {
    const kind = error instanceof ApiError ? error.kind : "internal";
    if (kind === "cancelled") {
      const message =
        `Cancelled: ${Math.round(fraction * 100)}% of the page checked, ${placed} sentence${placed === 1 ? "" : "s"} ` +
        "highlighted; the rest was not sent.";
      try {
        await callPage(tabId, "cancelled", { summary, placed, message });
      } catch {
        // The tab went away; the popup still shows the message.
      }
      await setState(tabId, { state: "cancelled", message, summary, placed, progress: fraction, claims: listed, apiUrl: settings.apiUrl });
      return;
    }
    const message = error instanceof ApiError ? error.message : `Veracity failed while checking this page: ${error?.message || error}`;
    if (kind !== "page") {
      try {
        await callPage(tabId, "fail", { kind, message, summary, placed });
      } catch {
        // The tab went away or navigated; the popup still shows the message.
      }
    }
    await setState(tabId, { state: "error", kind, message, summary, placed, apiUrl: settings.apiUrl });
  } finally {
    clearInterval(keepAlive);
    running.delete(tabId);
  }
}

/** The shortcut is an explicit request to check, except on a site the user said "never" for. */
async function checkByShortcut(tabId) {
  const { choice } = await previewTab(tabId).catch(() => ({ choice: null }));
  if (choice !== "never") return checkTab(tabId);
  await callPage(tabId, "fail", {
    kind: "off",
    message: "You chose never to send this site's pages to Veracity. Change that in the extension's popup.",
  });
}

/** What a check of the tab would send, and the site's choice, without sending anything (the popup's first-use card). */
export async function previewTab(tabId) {
  await injectContentScript(tabId);
  const page = await callPage(tabId, "preview", { excludeComments: await getExcludeComments() });
  return { ...page, choice: await siteChoice(page.origin), apiUrl: (await getSettings()).apiUrl };
}

export async function clearTab(tabId) {
  try {
    await ext.scripting.executeScript({
      target: { tabId },
      func: () => globalThis.__veracity?.clear(),
    });
  } catch {
    // Nothing was injected into this tab, or it is gone: there is nothing to clear.
  }
  await ext.storage.session.remove(stateKey(tabId));
}

function fromThisExtension(sender) {
  return sender.id === ext.runtime.id;
}

ext.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (!fromThisExtension(sender) || typeof message !== "object" || message === null) return false;
  const tabId = message.tabId ?? sender.tab?.id;
  if (message.type === "veracity:check" && Number.isInteger(tabId)) {
    checkTab(tabId); // the popup follows progress through storage.session
    sendResponse({ started: true });
  } else if (message.type === "veracity:page-changed" && Number.isInteger(tabId)) {
    // The content script saw the page re-render or grow after the check: the popup must not keep saying
    // "7 highlighted" over a page that shows none.
    ext.storage.session.get(stateKey(tabId)).then(({ [stateKey(tabId)]: state }) => {
      if (state && !running.has(tabId)) {
        const { remaining, total, grown } = message;
        setState(tabId, { ...state, state: "changed", remaining, total, grown, placed: remaining });
      }
    });
  } else if (message.type === "veracity:preview" && Number.isInteger(tabId)) {
    previewTab(tabId).then(sendResponse, (error) => sendResponse({ error: error?.message || String(error) }));
    return true;
  } else if (message.type === "veracity:focus-claim" && Number.isInteger(tabId)) {
    callPage(tabId, "focusClaim", message.id).then((found) => sendResponse({ found }), () => sendResponse({ found: false }));
    return true;
  } else if (message.type === "veracity:cancel" && Number.isInteger(tabId)) {
    running.get(tabId)?.abort();
    sendResponse({ cancelled: running.has(tabId) });
  } else if (message.type === "veracity:clear" && Number.isInteger(tabId)) {
    clearTab(tabId).then(() => sendResponse({ cleared: true }));
    return true;
  } else if (message.type === "veracity:cleared" && Number.isInteger(tabId)) {
    ext.storage.session.remove(stateKey(tabId));
  } else if (message.type === "veracity:open-options") {
    ext.runtime.openOptionsPage();
  }
  return false;
});

ext.commands.onCommand.addListener((command, tab) => {
  if (command === "check-page" && tab?.id !== undefined) checkByShortcut(tab.id);
});

// Highlights go away with the page, so does the tab's state.
ext.tabs.onUpdated.addListener((tabId, changeInfo) => {
  if (changeInfo.status === "loading" && !running.has(tabId)) ext.storage.session.remove(stateKey(tabId));
});
ext.tabs.onRemoved.addListener((tabId) => ext.storage.session.remove(stateKey(tabId)));

// A worker restarted mid-check (the browser stopped it) leaves "checking" behind: say so instead.
ext.storage.session.get(null).then((all) => {
  for (const [key, state] of Object.entries(all)) {
    if (key.startsWith("tab:") && state.state === "checking" && !running.has(state.tabId)) {
      setState(state.tabId, { ...state, state: "error", kind: "interrupted", message: "The check was interrupted; press Check again." });
    }
  }
});
