// The toolbar popup. Opening it is the "check this page" action: it starts a check of the active tab
// unless that tab already has highlights, then follows progress through storage.session.
// `?tab=<id>` names the tab explicitly (the popup opened as a page, as the browser tests do).

import { getHealth, getSettings } from "../lib/api.js";
import { setSiteChoice } from "../lib/sites.js";

const ext = globalThis.browser ?? globalThis.chrome;
const $ = (id) => document.getElementById(id);

async function targetTabId() {
  const param = new URLSearchParams(location.search).get("tab");
  if (param !== null) return Number(param);
  const [tab] = await ext.tabs.query({ active: true, currentWindow: true });
  return tab?.id;
}

function render(state) {
  const pageState = $("page-state");
  const bar = $("page-progress");
  const summary = $("summary");
  pageState.dataset.state = state?.state ?? "none";
  bar.hidden = state?.state !== "checking";
  $("cancel").hidden = state?.state !== "checking";
  $("check").disabled = state?.state === "checking";
  $("check").textContent = state ? "Check again" : "Check this page";
  $("clear").disabled = !state || !(state.placed > 0 || state.state === "checking");
  if (!state) {
    pageState.textContent = "Not checked yet.";
    summary.hidden = true;
    return;
  }
  // Counts only for a finished check: zeros while checking, or stale numbers after an error, say nothing true.
  if (state.state === "done" && state.summary) {
    for (const node of summary.querySelectorAll("[data-count]")) node.textContent = String(state.summary[node.dataset.count] ?? 0);
    summary.hidden = false;
  } else {
    summary.hidden = true;
  }
  if (state.state === "checking") {
    const percent = Math.round((state.progress || 0) * 100);
    bar.value = percent;
    pageState.textContent = `Checking… ${percent}%`;
  } else if (state.state === "changed") {
    pageState.textContent =
      state.remaining < state.total
        ? `The page changed since it was checked: ${state.remaining} of ${state.total} highlights remain. Check again.`
        : "More content has loaded since the check. Check again to include it.";
  } else if (state.state === "cancelled") {
    pageState.textContent = state.message; // how much was checked; the highlights of that part stay
  } else if (state.state === "done") {
    pageState.textContent = `Checked: ${state.placed} sentence${state.placed === 1 ? "" : "s"} highlighted` +
      (state.chunks > 1 ? ` (sent in ${state.chunks} parts).` : ".") +
      (state.loading ? " The page was still loading: check again once it has finished." : "");
  } else {
    pageState.textContent = state.message || "The check failed.";
    showApiStatus(); // a failed check may mean the API went away: never leave "API ready" above the error
  }
}

async function showApiStatus() {
  const status = $("api-status");
  const settings = await getSettings();
  try {
    const health = await getHealth(settings);
    status.dataset.state = "ok";
    const items = health.corpus?.items;
    status.textContent = `API ready at ${settings.apiUrl}` + (items !== undefined ? ` (${items} evidence items)` : "");
    $("scope").textContent = globalThis.veracityWording.describeScope(health.corpus); // lib/wording.js, as the web page
  } catch (error) {
    status.dataset.state = "error";
    status.textContent = error.message;
    $("scope").textContent = "";
  }
}

async function main() {
  const tabId = await targetTabId();
  const key = `tab:${tabId}`;
  showApiStatus();
  $("options").addEventListener("click", () => ext.runtime.openOptionsPage());
  if (!Number.isInteger(tabId)) {
    $("page-state").textContent = "No tab to check.";
    return;
  }
  const check = () => ext.runtime.sendMessage({ type: "veracity:check", tabId });
  $("check").addEventListener("click", check);
  $("cancel").addEventListener("click", () => ext.runtime.sendMessage({ type: "veracity:cancel", tabId }));
  if (ext.sidePanel?.open) {
    // Chrome's side panel: every claim on the page, grouped by verdict (sidepanel/). Firefox has none: no button.
    $("claims").hidden = false;
    $("claims").addEventListener("click", () => ext.sidePanel.open({ tabId }));
  }
  $("clear").addEventListener("click", async () => {
    await ext.runtime.sendMessage({ type: "veracity:clear", tabId });
    render(null);
  });
  ext.storage.onChanged.addListener((changes, area) => {
    if (area === "session" && key in changes) render(changes[key].newValue ?? null);
  });
  const state = (await ext.storage.session.get(key))[key] ?? null;
  render(state);
  if (!state || state.state === "error") await askOrCheck(tabId, check);
}

/** The toolbar click checks at once on a site the user chose "always" for; on a new site it first shows what
 * would be sent and where, and nothing leaves the browser until Check; on a "never" site it sends nothing. */
async function askOrCheck(tabId, check) {
  const page = await ext.runtime.sendMessage({ type: "veracity:preview", tabId });
  if (!page || page.error) {
    check(); // a page the extension cannot read: the check says why, as before
    return;
  }
  if (page.choice === "always") {
    check();
    return;
  }
  const consent = $("consent");
  const where = new URL(page.apiUrl).host;
  const show = (p) => {
    const words = p.words.toLocaleString("en");
    $("consent-what").textContent =
      page.choice === "never"
        ? `Checking would send this page's text (about ${words} words) to ${where}.`
        : `Check sends this page's text, about ${words} words, to ${where}.`;
    $("consent-preview").textContent = p.preview + (p.preview.length >= 600 ? " …" : "");
  };
  $("page-state").textContent =
    page.choice === "never"
      ? `Veracity is off on ${page.host}: you chose never to send its pages.`
      : "Nothing has been sent yet.";
  $("consent-never").hidden = page.choice === "never";
  show(page);
  consent.hidden = false;
  const go = async (choice) => {
    await ext.storage.local.set({ excludeComments: $("exclude-comments").checked });
    if (choice) await setSiteChoice(page.origin, choice);
    consent.hidden = true;
    if (choice !== "never") check();
    else $("page-state").textContent = `Veracity is off on ${page.host}: nothing was sent.`;
  };
  $("consent-once").addEventListener("click", () => go(null));
  $("consent-always").addEventListener("click", () => go("always"));
  $("consent-never").addEventListener("click", () => go("never"));
  const { excludeComments } = await ext.storage.local.get({ excludeComments: true });
  $("exclude-comments").checked = excludeComments;
  $("exclude-comments").addEventListener("change", async () => {
    await ext.storage.local.set({ excludeComments: $("exclude-comments").checked });
    const again = await ext.runtime.sendMessage({ type: "veracity:preview", tabId });
    if (again && !again.error) show(again);
  });
}

main();
