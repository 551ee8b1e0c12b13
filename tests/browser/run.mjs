// Drives Debian's Chromium for tests/test_browser.py: the web page's paste-and-check flow and the
// unpacked extension on local fixture pages. It only observes (highlights, popovers, messages,
// screenshots) and writes a JSON report; the pytest side compares that with the API's own answers.
//
// Usage: node run.mjs CONFIG.json   (see tests/test_browser.py for the fields)

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const config = JSON.parse(readFileSync(process.argv[2], "utf8"));
const report = {};
const TIMEOUT_MS = 120_000; // generous: the machine may be busy with other work

/** Whether docs/ wants a screenshot of this state: config.screenshots names a path for it (tests/test_browser.py
 * asks for them all with VERACITY_SCREENSHOTS=1, else only for those missing from docs/). */
const wants = (name) => Boolean(config.screenshots?.[name]);

/** A screenshot of `target` (a page or a locator) for docs/, taken only when it is wanted: normal runs take none. */
async function shot(name, target, options = {}) {
  if (wants(name)) await target.screenshot({ path: config.screenshots[name], ...options });
}

/** The part of the viewport that holds every element `selectors` names (the first of each), `margin` px around,
 * the viewport's full width: a screenshot's clip. */
function clipAround(page, selectors, margin = 16) {
  return page.evaluate(
    ([sels, m]) => {
      const rects = sels.map((sel) => document.querySelector(sel).getBoundingClientRect());
      const top = Math.max(0, Math.min(...rects.map((r) => r.top)) - m);
      const bottom = Math.min(window.innerHeight, Math.max(...rects.map((r) => r.bottom)) + m);
      return { x: 0, y: top, width: document.documentElement.clientWidth, height: bottom - top };
    },
    [selectors, margin],
  );
}

async function scenario(name, run) {
  const started = Date.now();
  try {
    report[name] = await run();
  } catch (error) {
    report[name] = { error: String(error?.stack || error) };
    console.error(`scenario ${name} failed:`, error);
  }
  report[name].seconds = (Date.now() - started) / 1000;
}

const launchArgs = [
  "--headless=new",
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-gpu",
  "--force-color-profile=srgb",
];

// ---- In-page readers, the same for both surfaces (each runs inside the page, so each is self-contained) ----

/** What an evidence popover shows: the verdict in words, its chips, the evidence order and what is visible. */
function readPopover(pop) {
  const close = pop.querySelector("button.close");
  return {
    shown: pop.checkVisibility(),
    headline: pop.querySelector(".headline")?.textContent ?? null,
    strength: pop.querySelector(".chip.strength")?.textContent ?? null,
    detail: pop.querySelector(".detail")?.textContent ?? null,
    reason: pop.querySelector(".why")?.textContent ?? null,
    items: [...pop.querySelectorAll("li")].map((li) => ({
      id: li.dataset.id ?? null,
      chip: li.querySelector(".chip")?.textContent ?? "",
      visible: li.checkVisibility(),
    })),
    toggle: pop.querySelector("button.more")?.textContent ?? null,
    close: close ? { visible: close.checkVisibility(), label: close.getAttribute("aria-label") } : null,
    text: pop.innerText,
    allText: pop.textContent,
  };
}

/** How each highlighted claim looks: its underline, a badge before it, whether Tab stops on it. */
function readMarks(marks) {
  return marks.map((mark) => {
    const style = getComputedStyle(mark);
    return {
      state: mark.dataset.state ?? mark.dataset.veracityState,
      underline: style.textDecorationLine,
      decoration: style.textDecorationStyle,
      color: style.textDecorationColor,
      thickness: parseFloat(style.textDecorationThickness),
      badge: getComputedStyle(mark, "::before").content !== "none" || mark.querySelector(".icon") !== null,
      tabStop: mark.tabIndex >= 0,
    };
  });
}

/** Walk the claims with a key or a button and read each popover; then close it with ✕ and with Escape. */
async function walkClaims(page, { popover, claims, focusedClaim, next, previous, nextButton, input, onClaim = null }) {
  const out = { order: [], popovers: [] };
  const count = await page.locator(claims).count();
  for (let i = 0; i < count; i++) {
    await next();
    out.order.push(await page.evaluate(focusedClaim));
    out.popovers.push(await page.locator(popover).evaluate(readPopover));
    if (onClaim) await onClaim(i); // the i-th claim's evidence is open (a screenshot for docs/)
  }
  await next();
  out.wrapsToFirst = await page.evaluate(focusedClaim);
  await previous();
  out.previousIsLast = await page.evaluate(focusedClaim);
  await page.locator(nextButton).click();
  out.buttonMovesToFirst = await page.evaluate(focusedClaim);
  // Tab leaves the highlights: they are not Tab stops.
  await page.locator(claims).first().focus();
  await page.keyboard.press("Tab");
  out.tabLandsOnClaim = (await page.evaluate(focusedClaim)) !== null;
  // The shortcut does nothing while the reader types in a field.
  await page.locator(input).focus();
  await next();
  out.shortcutInField = await page.evaluate(() => {
    const active = document.activeElement;
    return { stillInField: active?.localName === "input" || active?.localName === "textarea", value: active?.value ?? null };
  });

  // The first claim: its deciding evidence is shown, the rest behind "More evidence (n)".
  await page.locator(claims).first().focus();
  out.beforeToggle = await page.locator(popover).evaluate(readPopover);
  await page.locator(`${popover} button.more`).click();
  out.afterToggle = await page.locator(popover).evaluate(readPopover);
  // ✕ closes the popover and returns focus to the claim.
  // by keyboard: a mouse click leaves the pointer where it was, and a highlight under it opens its evidence again
  await page.locator(`${popover} button.close`).press("Enter");
  out.closedByButton = {
    shown: await page.locator(popover).isVisible(),
    focusedClaim: await page.evaluate(focusedClaim),
  };
  // Escape closes it too, with focus on the claim or inside the evidence.
  await next();
  const openBeforeEscape = await page.locator(popover).isVisible();
  await page.keyboard.press("Escape");
  out.closedByEscape = {
    openBefore: openBeforeEscape,
    shown: await page.locator(popover).isVisible(),
    focusedClaim: await page.evaluate(focusedClaim),
  };
  await page.keyboard.press("Enter");
  await page.keyboard.press("Tab"); // from the popover itself to its first control: the close button
  const inside = await page.locator(popover).isVisible();
  await page.keyboard.press("Escape");
  out.escapeFromInside = { openBefore: inside, shown: await page.locator(popover).isVisible(), focusedClaim: await page.evaluate(focusedClaim) };
  return out;
}

// ---- The web page ---------------------------------------------------------------------------------

async function webpage(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  const cspViolations = [];
  page.on("console", (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) cspViolations.push(msg.text());
  });
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.goto(config.apiUrl + "/");
  await page.waitForFunction(() => document.getElementById("scope").textContent.length > 0);
  const scope = await page.textContent("#scope");

  const collect = () =>
    page.evaluate(() => ({
      highlights: [...document.querySelectorAll("#document .sentence[data-label]")].map((s) => ({
        index: Number(s.dataset.index),
        label: s.dataset.label,
        classes: s.className,
        text: s.querySelector(".sentence-text").textContent,
        state: s.dataset.state,
        tabStop: s.tabIndex >= 0,
        badge: s.querySelector(".icon") !== null,
      })),
      summary: Object.fromEntries(
        [...document.querySelectorAll("#summary [data-count]")].map((n) => [n.dataset.count, Number(n.textContent)]),
      ),
      status: document.getElementById("status").textContent,
    }));

  // The paste-and-check flow on the seed article.
  await page.fill("#text", config.seedText);
  await page.click("#check-button");
  await page.waitForSelector("#results:not([hidden])", { timeout: TIMEOUT_MS });
  const seed = await collect();
  seed.focusOnResults = await page.evaluate(() => document.activeElement?.id === "results");
  // No blank scroll below the page: the document is as tall as what it shows.
  seed.blankScroll = await page.evaluate(
    () => document.documentElement.scrollHeight - (document.querySelector("footer")?.getBoundingClientRect().bottom + window.scrollY),
  );
  if (wants("webpageChecked")) {
    // Checked: the scope line, "Edit text" and the annotated text where the textarea was.
    await page.setViewportSize({ width: 1100, height: 1300 });
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot("webpageChecked", page);
  }

  // Hover the first supported sentence (else the first checked one) for its evidence.
  const target = page.locator("#document .sentence.verdict-supported").first();
  const hovered = (await target.count()) ? target : page.locator("#document .sentence[data-label]").first();
  await page.setViewportSize({ width: 1100, height: 2000 }); // the whole page in the README screenshot
  await page.evaluate(() => window.scrollTo(0, 0));
  // The first line of the sentence: an inline box over several lines has blank corners and a blank centre.
  await hovered.scrollIntoViewIfNeeded();
  const line = await hovered.evaluate((span) => {
    const r = span.getClientRects()[0];
    return { x: r.left + Math.min(20, r.width / 2), y: r.top + r.height / 2 };
  });
  await page.mouse.move(line.x, line.y);
  await page.waitForSelector("#evidence-popover:not([hidden])");
  const popover = {
    ...(await page.locator("#evidence-popover").evaluate(readPopover)),
    links: await page.locator("#evidence-popover a").evaluateAll((as) => as.map((a) => a.href)),
    index: Number(await page.locator('.sentence[aria-expanded="true"]').getAttribute("data-index")),
  };
  await shot("webpage", page);

  // Keyboard: focus a sentence, Enter moves into the evidence, Escape comes back.
  await page.mouse.move(0, 0);
  await page.locator("#document .sentence[data-label]").nth(1).focus();
  await page.keyboard.press("Enter");
  const keyboard = { intoPopover: await page.evaluate(() => document.activeElement?.id === "evidence-popover") };
  await page.keyboard.press("Escape");
  keyboard.back = await page.evaluate(() => ({
    hidden: document.getElementById("evidence-popover").hidden,
    onSentence: document.activeElement?.classList.contains("sentence"),
  }));

  // Astral characters: the API counts code points, JS strings count UTF-16 units.
  const editing = { afterCheck: await page.evaluate(() => ({
    textareaVisible: document.getElementById("text").offsetParent !== null,
    editVisible: !document.getElementById("edit-button").hidden,
  })) };
  await page.click("#edit-button");
  editing.afterEdit = await page.evaluate(() => ({
    textareaVisible: document.getElementById("text").offsetParent !== null,
    focused: document.activeElement?.id === "text",
    keptText: document.getElementById("text").value.length,
  }));
  await page.fill("#text", config.astralText);
  await page.click("#check-button");
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Done"), null, { timeout: TIMEOUT_MS });
  const astral = await collect();

  // A text longer than the server's body limit goes in parts, each shown as it comes back.
  let checkRequests = 0;
  page.on("request", (request) => {
    if (request.url().endsWith("/v1/check")) checkRequests += 1;
  });
  const watchProgress = () =>
    page.evaluate(
      () =>
        new Promise((resolve) => {
          const seen = { partial: false, statuses: [] };
          const look = () => {
            const status = document.getElementById("status").textContent;
            if (status && !seen.statuses.includes(status)) seen.statuses.push(status);
            const checking = !document.getElementById("cancel-button").hidden;
            const shown = document.querySelectorAll("#document .sentence[data-label]").length;
            const pending = document.querySelector("#document .pending")?.textContent.length ?? 0;
            if (checking && shown > 0 && pending > 0) seen.partial = true;
            if (/^(Done|Cancelled)/.test(status) || !document.getElementById("error").hidden) resolve(seen);
            else setTimeout(look, 20);
          };
          look();
        }),
    );
  await page.click("#edit-button");
  await page.fill("#text", config.tooLongText);
  checkRequests = 0;
  await page.click("#check-button");
  const parts = await watchProgress();
  const long = { ...(await collect()), requests: checkRequests, ...parts };

  // Cancel: the parts not yet sent are never sent; what came back stays, the rest stays grey.
  await page.click("#edit-button");
  await page.fill("#text", config.cancelText);
  checkRequests = 0;
  await page.click("#check-button");
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Checked"), null, { timeout: TIMEOUT_MS });
  if (wants("webpageProgress")) {
    // Part-way: the bar, "Checked 15% of the text · … · about N s left", Cancel beside Check.
    await page.waitForFunction(() => document.getElementById("progress").value >= 0.15, null, { timeout: TIMEOUT_MS });
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot("webpageProgress", page, { clip: { x: 0, y: 0, width: 1100, height: 900 } });
  }
  const requestsAtCancel = checkRequests;
  await page.click("#cancel-button");
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Cancelled"), null, { timeout: TIMEOUT_MS });
  await page.waitForTimeout(1500);
  const cancelled = {
    ...(await collect()),
    requestsAtCancel,
    requestsAfter: checkRequests,
    pending: await page.evaluate(() => document.querySelector("#document .pending")?.textContent.length ?? 0),
    buttons: await page.evaluate(() => ({
      cancelHidden: document.getElementById("cancel-button").hidden,
      checkEnabled: !document.getElementById("check-button").disabled,
      progressHidden: document.getElementById("progress").hidden,
    })),
  };

  // An API error is shown, not swallowed, and the previous text's results go.
  await page.route("**/v1/check", (route) =>
    route.fulfill({
      status: 503,
      contentType: "application/json",
      headers: { "Retry-After": "2" },
      body: JSON.stringify({ ok: false, error: { code: "overloaded", message: "Veracity is busy; retry after 2 s.", status: 503 } }),
    }),
  );
  await page.click("#edit-button");
  await page.fill("#text", config.astralText);
  await page.click("#check-button");
  await page.waitForSelector("#error:not([hidden])", { timeout: TIMEOUT_MS });
  const apiError = await page.textContent("#error");
  const staleResultsAfterError = await page.evaluate(() => !document.getElementById("results").hidden);
  await page.unroute("**/v1/check");

  // A phone: the evidence is a bottom sheet, full width from the bottom edge, with its close button.
  await page.setViewportSize({ width: 390, height: 844 });
  if (await page.isVisible("#edit-button")) await page.click("#edit-button");
  await page.fill("#text", config.seedText);
  await page.click("#check-button");
  await page.waitForFunction(() => document.getElementById("status").textContent.startsWith("Done"), null, { timeout: TIMEOUT_MS });
  await page.locator("#document .sentence[data-label]").first().focus();
  await page.waitForSelector("#evidence-popover:not([hidden])");
  const phone = await page.evaluate(() => {
    const r = document.getElementById("evidence-popover").getBoundingClientRect();
    const close = document.querySelector("#evidence-popover .close");
    return { left: r.left, right: window.innerWidth - r.right, bottom: window.innerHeight - r.bottom, height: r.height, viewport: window.innerHeight, close: close !== null && close.offsetParent !== null };
  });
  await shot("webpagePhone", page);
  await page.setViewportSize({ width: 1100, height: 900 });

  // Dark mode follows the system setting.
  await page.emulateMedia({ colorScheme: "dark" });
  const dark = await page.evaluate(() => ({
    page: getComputedStyle(document.documentElement).backgroundColor,
    panel: getComputedStyle(document.querySelector(".panel")).backgroundColor,
    ink: getComputedStyle(document.body).color,
  }));
  if (wants("webpageDark")) {
    // The results with a claim's evidence open, in the dark scheme (placed afresh: the phone's sheet closed first).
    await page.keyboard.press("Escape");
    await page.evaluate(() => document.activeElement?.blur());
    await page.locator("#document .sentence.verdict-supported").first().focus();
    await page.waitForSelector("#evidence-popover:not([hidden])");
    await shot("webpageDark", page);
    await page.keyboard.press("Escape");
  }
  await page.emulateMedia({ colorScheme: "light" });

  await context.close();
  return { scope, seed, popover, keyboard, editing, phone, astral, long, cancelled, apiError, staleResultsAfterError, dark, cspViolations, pageErrors };
}

/** Every verdict state on the web page, from the stub API's canned verdicts (the page's own /v1/check is rerouted). */
async function webpageStates(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  await page.route("**/v1/check", async (route) => route.fulfill({ response: await route.fetch({ url: config.stubUrl + "/v1/check" }) }));
  await page.goto(config.apiUrl + "/");
  await page.fill("#text", config.statesText);
  await page.click("#check-button");
  await page.waitForSelector("#results:not([hidden])");
  await page.click("#edit-button"); // the textarea back beside the results: the walk types in it
  await page.evaluate(() => document.activeElement?.blur());
  const marks = await page.locator("#document .sentence[data-label]").evaluateAll(readMarks);
  const walk = await walkClaims(page, {
    popover: "#evidence-popover",
    claims: "#document .sentence[data-label]",
    focusedClaim: () => {
      const active = document.activeElement;
      return active?.matches(".sentence[data-label]") ? [...document.querySelectorAll(".sentence[data-label]")].indexOf(active) : null;
    },
    next: () => page.keyboard.press("n"),
    previous: () => page.keyboard.press("p"),
    nextButton: "#next-claim",
    input: "#text",
    // The contradicted claim: the verdict in words, its strength chip, the deciding evidence first with its chip.
    onClaim: async (i) => {
      if (i === 1 && wants("webpagePopover")) {
        const clip = await clipAround(page, ["#evidence-popover", ".sentence[aria-expanded='true']"]);
        await shot("webpagePopover", page, { clip });
      }
    },
  });
  // Alt+J / Alt+K work on the page as in the extension.
  await page.locator("#document .sentence[data-label]").first().focus();
  await page.keyboard.press("Alt+KeyJ");
  const altJ = await page.evaluate(() => [...document.querySelectorAll(".sentence[data-label]")].indexOf(document.activeElement));
  await page.keyboard.press("Alt+KeyK");
  const altK = await page.evaluate(() => [...document.querySelectorAll(".sentence[data-label]")].indexOf(document.activeElement));
  // The claims list: grouped by verdict, contradicted first; a click goes to the sentence; the filter.
  const claimGroups = await page.evaluate(() =>
    [...document.querySelectorAll("#claims-list .claim-group")].map((g) => ({
      state: g.dataset.state,
      title: g.querySelector("h3").textContent,
      claims: [...g.querySelectorAll(".claim-link")].map((b) => b.textContent),
    })),
  );
  await page.keyboard.press("Escape"); // the last claim's evidence, opened by Alt+K, would cover the list
  await page.evaluate(() => window.scrollTo(0, 0));
  if (wants("webpageClaims")) {
    // The list and where it ends (it scrolls past 320 px), with the top of the annotated text below it.
    await page.evaluate(() => document.getElementById("claims").scrollIntoView({ block: "start" }));
    const clip = await clipAround(page, ["#claims", "#document .sentence"]);
    await shot("webpageClaims", page, { clip });
    await page.evaluate(() => window.scrollTo(0, 0));
  }
  const lastLink = page.locator("#claims-list .claim-link").last();
  const lastIndex = await lastLink.getAttribute("data-index");
  await lastLink.click();
  const clicked = await page.evaluate((index) => {
    const active = document.activeElement;
    const r = active.getBoundingClientRect();
    return {
      focusedIndex: active?.dataset?.index ?? null,
      expectedIndex: index,
      inView: r.top >= 0 && r.bottom <= window.innerHeight,
      popoverOpen: !document.getElementById("evidence-popover").hidden,
    };
  }, lastIndex);
  await page.check("#only-contradicted");
  const filtered = await page.evaluate(() =>
    [...document.querySelectorAll("#claims-list .claim-group")].filter((g) => !g.hidden).map((g) => g.dataset.state),
  );
  await context.close();
  return { marks, ...walk, altJ, altK, claimGroups, clicked, filtered, pageErrors };
}

// ---- The extension --------------------------------------------------------------------------------

async function launchExtension() {
  const profile = mkdtempSync(join(tmpdir(), "veracity-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: config.chromium,
    viewport: { width: 1200, height: 1100 },
    args: [...launchArgs, `--load-extension=${config.extensionDir}`, `--disable-extensions-except=${config.extensionDir}`],
  });
  context.setDefaultTimeout(TIMEOUT_MS);
  let [worker] = context.serviceWorkers();
  if (!worker) worker = await context.waitForEvent("serviceworker", { timeout: TIMEOUT_MS });
  const extensionId = new URL(worker.url()).host;
  // An extension page kept open for the tests' own chrome.* calls: the service worker itself may be
  // stopped by the browser when idle, which would close a handle to it.
  const control = await context.newPage();
  await control.goto(`chrome-extension://${extensionId}/options/options.html`);
  return { context, control, extensionId, profile };
}

function extensionHelpers({ context, control, extensionId }) {
  const base = `chrome-extension://${extensionId}`;

  async function setApiUrl(apiUrl) {
    const options = await context.newPage();
    await options.goto(`${base}/options/options.html`);
    await options.fill("#api-url", apiUrl);
    await options.click("#save");
    await options.waitForFunction(() => document.getElementById("message").textContent.startsWith("Saved"));
    const message = await options.textContent("#message");
    await options.close();
    return message;
  }

  /** The popup's per-site choice ("always", "never", or null to be asked), as the first-use card stores it. */
  async function setSiteChoice(origin, choice) {
    await control.evaluate(
      async ([o, c]) => {
        const { sites } = await chrome.storage.local.get({ sites: {} });
        if (c === null) delete sites[o];
        else sites[o] = c;
        await chrome.storage.local.set({ sites });
      },
      [origin, choice],
    );
  }

  /** `prepare(page)` runs before navigation (e.g. a route that never answers); `waitUntil` as page.goto's. */
  async function openFixture(name, { prepare = null, waitUntil = "load" } = {}) {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    if (prepare) await prepare(page);
    await page.goto(`${config.fixturesUrl}/${name}`, { waitUntil });
    const tabId = await control.evaluate(
      async (url) => (await chrome.tabs.query({ url })).map((t) => t.id)[0],
      page.url(),
    );
    // Record every status message the extension shows, from the page's side of the open shadow root.
    await page.evaluate(() => {
      window.__veracityLog = [];
      const watch = (host) => {
        const log = () => {
          const banner = host.shadowRoot.querySelector(".banner");
          if (banner && !banner.hidden) window.__veracityLog.push(banner.innerText);
        };
        new MutationObserver(log).observe(host.shadowRoot, { subtree: true, childList: true, characterData: true, attributes: true });
        log();
      };
      new MutationObserver((records) => {
        for (const r of records) for (const n of r.addedNodes) if (n.localName === "veracity-ui") watch(n);
      }).observe(document.documentElement, { childList: true });
    });
    return { page, tabId, errors };
  }

  /** Press Check the way the toolbar does: open the popup (here as a tab) for the target tab. */
  async function openPopup(tabId) {
    const popup = await context.newPage();
    await popup.goto(`${base}/popup/popup.html?tab=${tabId}`);
    return popup;
  }

  async function openSidePanel(tabId) {
    const panel = await context.newPage();
    await panel.goto(`${base}/sidepanel/sidepanel.html?tab=${tabId}`);
    return panel;
  }

  async function waitForBanner(page, kind) {
    await page.waitForSelector(`veracity-ui .banner[data-kind="${kind}"]`, { timeout: TIMEOUT_MS });
    return page.locator("veracity-ui .banner").innerText();
  }

  const highlights = (page) =>
    page.evaluate(() => {
      const groups = new Map();
      for (const mark of document.querySelectorAll("veracity-hl")) {
        const id = Number(mark.dataset.veracitySentence);
        if (!groups.has(id)) {
          groups.set(id, {
            id,
            label: mark.dataset.veracityLabel,
            classes: mark.className,
            text: "",
            marks: 0,
            tabStop: mark.tabIndex >= 0,
            ariaLabel: mark.getAttribute("aria-label"),
            insideInline: new Set(),
          });
        }
        const group = groups.get(id);
        group.text += mark.textContent;
        group.marks += 1;
        if (mark.parentElement.localName !== "p") group.insideInline.add(mark.parentElement.localName);
      }
      return [...groups.values()].map((g) => ({ ...g, insideInline: [...g.insideInline] }));
    });

  const popupState = (popup) =>
    popup.evaluate(() => ({
      state: document.getElementById("page-state").textContent,
      api: document.getElementById("api-status").textContent,
      scope: document.getElementById("scope").textContent,
      apiState: document.getElementById("api-status").dataset.state,
      summary: Object.fromEntries(
        [...document.querySelectorAll("#summary [data-count]")].map((n) => [n.dataset.count, Number(n.textContent)]),
      ),
      summaryShown: !document.getElementById("summary").hidden,
      summaryVisible: getComputedStyle(document.getElementById("summary")).display !== "none",
      fontSize: getComputedStyle(document.body).fontSize,
    }));

  const extractedText = (tabId) =>
    control.evaluate(
      async (id) =>
        (await chrome.scripting.executeScript({ target: { tabId: id }, func: () => globalThis.__veracity.extract().text }))[0].result,
      tabId,
    );

  const articleSnapshot = (page) =>
    page.evaluate(() => {
      const article = document.querySelector("article");
      const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
      let textNodes = 0;
      while (walker.nextNode()) textNodes += 1;
      const box = article.getBoundingClientRect();
      return { text: article.textContent, textNodes, width: box.width, height: box.height };
    });

  return {
    setApiUrl,
    openFixture,
    openPopup,
    openSidePanel,
    setSiteChoice,
    waitForBanner,
    highlights,
    popupState,
    extractedText,
    articleSnapshot,
  };
}

async function extensionSeed(ext, h) {
  const saved = await h.setApiUrl(config.apiUrl);
  const { page, tabId, errors } = await h.openFixture("seed_article.html");
  const before = await h.articleSnapshot(page);
  const popup = await h.openPopup(tabId);
  const banner = await h.waitForBanner(page, "done");
  await popup.waitForFunction(() => document.getElementById("page-state").textContent.startsWith("Checked"));
  await popup.waitForFunction(() => document.getElementById("api-status").dataset.state !== "unknown");
  const popupResult = await h.popupState(popup);
  if (wants("extensionPopup")) {
    await popup.bringToFront();
    await shot("extensionPopup", popup.locator("body"));
  }
  const highlights = await h.highlights(page);
  const during = await h.articleSnapshot(page);

  // The popover for the first supported sentence (else the first highlighted one).
  await page.bringToFront();
  const supported = page.locator("veracity-hl.veracity-hl-supported[data-veracity-first]").first();
  const target = (await supported.count()) ? supported : page.locator("veracity-hl[data-veracity-first]").first();
  const targetId = Number(await target.getAttribute("data-veracity-sentence"));
  await target.scrollIntoViewIfNeeded();
  const line = await target.evaluate((mark) => {
    const r = mark.getClientRects()[0];
    return { x: r.left + Math.min(20, r.width / 2), y: r.top + r.height / 2 };
  });
  await page.mouse.move(line.x, line.y);
  await page.waitForSelector("veracity-ui .popover:not([hidden])");
  const popover = {
    ...(await page.locator("veracity-ui .popover").evaluate(readPopover)),
    id: targetId,
    links: await page.locator("veracity-ui .popover a").evaluateAll((as) => as.map((a) => a.href)),
    label: await page.locator("veracity-ui .popover").getAttribute("data-label"),
  };
  await shot("extension", page);

  // Keyboard: a focused highlight shows its evidence, Enter moves into it, Escape returns.
  await page.mouse.move(1, 1);
  await page.locator("veracity-hl[data-veracity-first]").nth(1).focus();
  const keyboard = {
    shownOnFocus: await page.locator("veracity-ui .popover").isVisible(),
  };
  await page.keyboard.press("Enter");
  keyboard.intoPopover = await page.evaluate(
    () => document.activeElement?.localName === "veracity-ui" && document.activeElement.shadowRoot.activeElement?.classList.contains("popover"),
  );
  await page.keyboard.press("Escape");
  keyboard.back = await page.evaluate(() => document.activeElement?.localName === "veracity-hl");
  keyboard.hidden = !(await page.locator("veracity-ui .popover").isVisible());

  // The page's own script still handles a click on a link whose text is highlighted.
  await page.click("#receptor-link");
  const pageScript = await page.evaluate(() => ({
    clicks: window.pageState?.clicks,
    shown: document.getElementById("click-count").textContent,
    receptorLinkHighlighted: !!document.querySelector("#receptor-link veracity-hl"),
    inlineScriptRan: window.inlineScriptRan === true,
  }));
  const extracted = await h.extractedText(tabId);

  // The card: in the bottom corner, clear of the headline; folded, a pill with the title and counts.
  await page.bringToFront();
  await page.evaluate(() => window.scrollTo(0, 0));
  const box = () =>
    page.evaluate(() => {
      const banner = document.querySelector("veracity-ui").shadowRoot.querySelector(".banner");
      const r = banner.getBoundingClientRect();
      const h1 = document.querySelector("h1").getBoundingClientRect();
      const overlaps = !(r.right <= h1.left || r.left >= h1.right || r.bottom <= h1.top || r.top >= h1.bottom);
      return { width: r.width, height: r.height, right: window.innerWidth - r.right, bottom: window.innerHeight - r.bottom, overlapsHeadline: overlaps, text: banner.innerText };
    });
  const card = { open: await box() };
  await page.locator("veracity-ui .banner button.fold").click();
  card.folded = await box();
  if (wants("extensionPill")) {
    await page.keyboard.press("Escape"); // the evidence the link click opened
    await page.waitForSelector("veracity-ui .popover", { state: "hidden" });
    await shot("extensionPill", page, { clip: { x: 600, y: 800, width: 600, height: 300 } });
  }
  await page.locator("veracity-ui .banner button.fold").click();
  card.reopened = await box();

  // Clear highlights from the popup: the page's text nodes come back as they were.
  await popup.bringToFront();
  await popup.click("#clear");
  await page.waitForFunction(() => !document.querySelector("veracity-hl"));
  const after = await h.articleSnapshot(page);
  const popupAfterClear = await h.popupState(popup);
  await popup.close();
  await page.close();
  return { saved, banner, popup: popupResult, highlights, popover, keyboard, pageScript, extracted, before, during, after, popupAfterClear, card, errors };
}

async function extensionLong(ext, h) {
  const { page, tabId } = await h.openFixture("long_article.html");
  const popup = await h.openPopup(tabId);
  const banner = await h.waitForBanner(page, "done");
  await popup.waitForFunction(() => document.getElementById("page-state").textContent.startsWith("Checked"));
  const result = {
    banner,
    popup: await h.popupState(popup),
    highlights: await h.highlights(page),
    progressLog: await page.evaluate(() => window.__veracityLog),
    extracted: await h.extractedText(tabId),
  };
  await popup.close();
  await page.close();
  return result;
}

/** Cancel while a long page is being checked: no part after it, the highlights so far stay, both surfaces say so. */
async function extensionCancel(ext, h) {
  const { page, tabId, errors } = await h.openFixture("many_claims.html");
  const popup = await h.openPopup(tabId);
  await page.bringToFront();
  await page.waitForFunction(
    () => document.querySelector("veracity-ui")?.shadowRoot?.querySelector(".banner .detail")?.textContent.startsWith("Checked"),
    null,
    { timeout: TIMEOUT_MS },
  );
  const popupDuring = await h.popupState(popup);
  const cancelVisibleInPopup = await popup.evaluate(() => !document.getElementById("cancel").hidden);
  await page.locator("veracity-ui .banner button.cancel").click();
  const banner = await h.waitForBanner(page, "cancelled");
  const atCancel = (await h.highlights(page)).length;
  await page.waitForTimeout(3000); // a part sent after Cancel would be highlighted by now
  const after = (await h.highlights(page)).length;
  await popup.waitForFunction(() => document.getElementById("page-state").textContent.startsWith("Cancelled"));
  const popupAfter = await h.popupState(popup);
  const cancelHiddenAfter = await popup.evaluate(() => document.getElementById("cancel").hidden);
  await popup.close();
  await page.close();
  return { banner, atCancel, after, popupDuring, cancelVisibleInPopup, popupAfter, cancelHiddenAfter, errors };
}

/** Ask before sending, per site: the first-use card, its preview and comments switch, Always, Never. */
async function extensionConsent(ext, h) {
  const origin = new URL(config.fixturesUrl).origin;
  const banner = (page) => page.evaluate(() => document.querySelector("veracity-ui")?.shadowRoot?.querySelector(".banner")?.dataset.kind ?? null);
  const card = (popup) =>
    popup.evaluate(() => ({
      visible: !document.getElementById("consent").hidden,
      what: document.getElementById("consent-what").textContent,
      preview: document.getElementById("consent-preview").textContent,
      state: document.getElementById("page-state").textContent,
    }));
  await h.setSiteChoice(origin, null);
  const first = await h.openFixture("with_comments.html");
  let popup = await h.openPopup(first.tabId);
  await popup.waitForSelector("#consent:not([hidden])");
  const asked = await card(popup);
  if (wants("extensionConsent")) {
    await popup.evaluate(() => {
      document.querySelector("#consent details").open = true; // the preview, opened as a reader would
    });
    await shot("extensionConsent", popup.locator("body"));
  }
  await first.page.waitForTimeout(1500);
  const bannerWhileAsking = await banner(first.page); // nothing sent, nothing shown on the page
  await popup.uncheck("#exclude-comments");
  await popup.waitForFunction(() => document.getElementById("consent-preview").textContent.includes("Reader one"));
  const withComments = await card(popup);
  await popup.check("#exclude-comments");
  await popup.waitForFunction(() => !document.getElementById("consent-preview").textContent.includes("Reader one"));
  await popup.click("#consent-always");
  await first.page.bringToFront();
  await h.waitForBanner(first.page, "done");
  const highlighted = (await h.highlights(first.page)).map((x) => x.text);
  const stored = await ext.control.evaluate(async () => (await chrome.storage.local.get({ sites: {} })).sites);
  await popup.close();
  await first.page.close(); // tabs are found by URL: the third step opens this page again
  // Another page of the same site: checked at once, no card.
  const second = await h.openFixture("seed_article.html");
  popup = await h.openPopup(second.tabId);
  await h.waitForBanner(second.page, "done");
  const alwaysCard = await card(popup);
  await popup.close();
  await second.page.close();
  // Never: nothing is sent, now or when the popup opens again.
  await h.setSiteChoice(origin, null);
  const third = await h.openFixture("with_comments.html");
  popup = await h.openPopup(third.tabId);
  await popup.waitForSelector("#consent:not([hidden])");
  await popup.click("#consent-never");
  await popup.waitForFunction(() => document.getElementById("page-state").textContent.includes("nothing was sent"));
  const neverState = (await card(popup)).state;
  await popup.close();
  popup = await h.openPopup(third.tabId);
  await popup.waitForFunction(() => document.getElementById("page-state").textContent.startsWith("Veracity is off"));
  const neverAgain = await card(popup);
  await third.page.waitForTimeout(1500);
  const bannerAfterNever = await banner(third.page);
  const storedNever = await ext.control.evaluate(async () => (await chrome.storage.local.get({ sites: {} })).sites);
  // The options page lists the choice, with Forget.
  const options = await ext.context.newPage();
  await options.goto(`chrome-extension://${ext.extensionId}/options/options.html`);
  await options.waitForSelector("#sites li");
  const listed = await options.locator("#sites li").allTextContents();
  await options.close();
  await popup.close();
  await third.page.close();
  await h.setSiteChoice(origin, "always");
  return {
    origin, asked, bannerWhileAsking, withComments, highlighted, stored, alwaysCard, neverState, neverAgain,
    bannerAfterNever, storedNever, listed,
  };
}

/** A page that re-renders, then grows, after the check; and one still loading when it is checked. */
async function extensionDynamic(ext, h) {
  const bannerText = (page) => page.locator("veracity-ui .banner").innerText();
  const { page, tabId, errors } = await h.openFixture("dynamic.html");
  let popup = await h.openPopup(tabId);
  await h.waitForBanner(page, "done");
  const before = (await h.highlights(page)).length;
  await page.evaluate(() => window.rerender());
  await h.waitForBanner(page, "changed");
  const rerendered = { banner: await bannerText(page), highlights: (await h.highlights(page)).length };
  if (wants("extensionChanged")) {
    await page.setViewportSize({ width: 1000, height: 500 }); // the short page and the card, without blank space
    await shot("extensionChanged", page);
    await page.setViewportSize({ width: 1200, height: 1100 });
  }
  await popup.waitForFunction(() => document.getElementById("page-state").textContent.startsWith("The page changed"));
  rerendered.popup = (await h.popupState(popup)).state;
  await popup.close();
  await page.locator("veracity-ui .banner button.check-again").click();
  await h.waitForBanner(page, "done");
  const againHighlights = (await h.highlights(page)).length;
  await page.evaluate(() => window.loadMore());
  await h.waitForBanner(page, "changed");
  const grown = {
    banner: await bannerText(page),
    button: await page.locator("veracity-ui .banner button.check-again").innerText(),
  };
  await page.locator("veracity-ui .banner button.check-again").click();
  await h.waitForBanner(page, "done");
  const afterMore = (await h.highlights(page)).map((x) => x.text);
  // A page script that touches something else does not count as a change.
  await page.evaluate(() => document.body.append(document.createElement("span")));
  await page.waitForTimeout(1000);
  const stillDone = await page.locator("veracity-ui .banner").getAttribute("data-kind");
  await page.close();
  // Still loading: an image that never arrives keeps the document from completing.
  const loading = await h.openFixture("dynamic.html", {
    prepare: (p) => p.route("**/slow.png", () => {}),
    waitUntil: "domcontentloaded",
  });
  popup = await h.openPopup(loading.tabId);
  const loadingBanner = await h.waitForBanner(loading.page, "done");
  await popup.waitForFunction(() => document.getElementById("page-state").textContent.startsWith("Checked"));
  const loadingPopup = (await h.popupState(popup)).state;
  await popup.close();
  await loading.page.close();
  return { before, rerendered, againHighlights, grown, afterMore, stillDone, loadingBanner, loadingPopup, errors };
}

async function extensionFailures(ext, h) {
  const out = {};
  // Nothing listens on this port.
  out.unreachableSaved = await h.setApiUrl(config.closedUrl);
  {
    const { page, tabId } = await h.openFixture("seed_article.html");
    const popup = await h.openPopup(tabId);
    out.unreachable = await h.waitForBanner(page, "error");
    await popup.waitForFunction(() => document.getElementById("page-state").dataset.state === "error");
    await popup.waitForFunction(() => document.getElementById("api-status").dataset.state !== "unknown");
    out.unreachablePopup = await h.popupState(popup);
    out.unreachableHighlights = (await h.highlights(page)).length;
    await popup.close();
    await page.close();
  }
  // A real Veracity error: the address points at a path the API does not serve.
  await h.setApiUrl(config.apiUrl + "/not-the-api");
  {
    const { page, tabId } = await h.openFixture("seed_article.html");
    const popup = await h.openPopup(tabId);
    out.apiError = await h.waitForBanner(page, "error");
    await popup.close();
    await page.close();
  }
  // A page with nothing readable, against the working API.
  await h.setApiUrl(config.apiUrl);
  {
    const { page, tabId } = await h.openFixture("empty.html");
    const popup = await h.openPopup(tabId);
    out.noText = await h.waitForBanner(page, "error");
    await popup.waitForFunction(() => document.getElementById("page-state").dataset.state === "error");
    out.noTextPopup = await h.popupState(popup);
    await popup.close();
    await page.close();
  }
  return out;
}

/** Every verdict state in the extension, from the stub API: the same canned verdicts as webpageStates. */
async function extensionStates(ext, h) {
  await h.setApiUrl(config.stubUrl);
  const { page, tabId, errors } = await h.openFixture("verdict_states.html");
  const popup = await h.openPopup(tabId);
  await h.waitForBanner(page, "done");
  await popup.close();
  await page.bringToFront();
  const marks = await page.locator("veracity-hl[data-veracity-first]").evaluateAll(readMarks);
  const key = (combo) => () => page.keyboard.press(combo);
  const walk = await walkClaims(page, {
    popover: "veracity-ui .popover",
    claims: "veracity-hl[data-veracity-first]",
    focusedClaim: () => {
      const active = document.activeElement;
      return active?.localName === "veracity-hl" ? Number(active.dataset.veracitySentence) : null;
    },
    next: key("Alt+KeyJ"),
    previous: key("Alt+KeyK"),
    nextButton: "veracity-ui .banner button.next-claim",
    input: "#page-input",
  });
  // A phone: the evidence is a bottom sheet here too.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator("veracity-hl[data-veracity-first]").first().focus();
  await page.waitForSelector("veracity-ui .popover:not([hidden])");
  const phone = await page.evaluate(() => {
    const pop = document.querySelector("veracity-ui").shadowRoot.querySelector(".popover");
    const r = pop.getBoundingClientRect();
    return { left: r.left, right: window.innerWidth - r.right, bottom: window.innerHeight - r.bottom, height: r.height, viewport: window.innerHeight, close: pop.querySelector(".close") !== null };
  });
  await shot("extensionPhone", page);
  await page.setViewportSize({ width: 1200, height: 1100 });
  if (wants("extensionDark")) {
    // The highlights, the card and a popover (the mixed claim) with the system in the dark scheme.
    await page.emulateMedia({ colorScheme: "dark" });
    await page.locator("veracity-hl[data-veracity-first]").nth(2).focus();
    await page.waitForSelector("veracity-ui .popover:not([hidden])");
    await shot("extensionDark", page);
    await page.emulateMedia({ colorScheme: "light" });
  }
  // A single letter stays the page's: "n" does not move between claims in the extension.
  await page.locator("veracity-hl[data-veracity-first]").first().focus();
  await page.keyboard.press("n");
  const plainN = await page.evaluate(() => Number(document.activeElement?.dataset?.veracitySentence ?? -1));
  // The side panel: the page's claims grouped by verdict; a click goes to the claim on the page; the filter.
  const panel = await h.openSidePanel(tabId);
  await panel.waitForSelector("#groups .group");
  const readGroups = () =>
    panel.evaluate(() =>
      [...document.querySelectorAll("#groups .group")].map((g) => ({
        state: g.dataset.state,
        title: g.querySelector("h2").textContent,
        hidden: g.hidden,
        claims: [...g.querySelectorAll("button.claim")].map((b) => b.textContent),
      })),
    );
  const claimGroups = await readGroups();
  const panelState = await panel.textContent("#state");
  const panelFont = await panel.evaluate(() => getComputedStyle(document.body).fontSize);
  if (wants("extensionPanel")) {
    await panel.setViewportSize({ width: 400, height: 700 }); // about the width of Chrome's side panel
    await panel.bringToFront();
    await shot("extensionPanel", panel);
  }
  const lastClaim = panel.locator("#groups button.claim").last();
  const lastId = Number(await lastClaim.getAttribute("data-id"));
  await lastClaim.click();
  await page.waitForFunction((id) => Number(document.activeElement?.dataset?.veracitySentence) === id, lastId, {
    timeout: 10_000,
  });
  const panelClick = {
    id: lastId,
    focused: await page.evaluate(() => Number(document.activeElement?.dataset?.veracitySentence ?? -1)),
    popoverOpen: await page.evaluate(() => !document.querySelector("veracity-ui").shadowRoot.querySelector(".popover").hidden),
  };
  await panel.check("#only-contradicted");
  const panelFiltered = (await readGroups()).filter((g) => !g.hidden).map((g) => g.state);
  await panel.close();
  await page.close();
  await h.setApiUrl(config.apiUrl);
  return { marks, ...walk, plainN, phone, claimGroups, panelState, panelFont, panelClick, panelFiltered, pageErrors: errors };
}

const started = Date.now();
const browser = await chromium.launch({ executablePath: config.chromium, args: launchArgs });
await scenario("webpage", () => webpage(browser));
await scenario("webpageStates", () => webpageStates(browser));
await browser.close();

const ext = await launchExtension();
const helpers = extensionHelpers(ext);
report.extension = { id: ext.extensionId };
// Every fixture page shares one origin: "always" there, as a user who chose it on the first-use card
// (extensionConsent covers the card itself).
await helpers.setSiteChoice(new URL(config.fixturesUrl).origin, "always");
await scenario("extensionSeed", () => extensionSeed(ext, helpers));
await scenario("extensionLong", () => extensionLong(ext, helpers));
await scenario("extensionCancel", () => extensionCancel(ext, helpers));
await scenario("extensionFailures", () => extensionFailures(ext, helpers));
await scenario("extensionConsent", () => extensionConsent(ext, helpers));
await scenario("extensionDynamic", () => extensionDynamic(ext, helpers));
await scenario("extensionStates", () => extensionStates(ext, helpers));
await ext.context.close();
rmSync(ext.profile, { recursive: true, force: true });

report.seconds = (Date.now() - started) / 1000;
writeFileSync(config.report, JSON.stringify(report, null, 2));
