// The side panel (Chrome's side_panel): every claim checked on the active tab, grouped by verdict with what is
// contradicted first; a click scrolls the page to the claim and opens its evidence. It reads the tab's state
// in storage.session, where the service worker adds each part's claims as they come back, so it fills in while
// a long page is being checked. `?tab=<id>` names the tab explicitly (the browser tests open it as a page).

const ext = globalThis.browser ?? globalThis.chrome;
const { CLAIM_GROUPS } = globalThis.veracityWording; // lib/wording.js: the same groups as the web page
const $ = (id) => document.getElementById(id);
let tabId = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

function render(state) {
  const claims = state?.claims ?? [];
  const status = {
    checking: `Checking… ${Math.round((state?.progress ?? 0) * 100)}%: ${claims.length} claims so far.`,
    done: `${claims.length} claims checked.`,
    cancelled: state?.message,
    error: state?.message,
  }[state?.state];
  $("state").textContent = status ?? "No check of this page yet: press the Veracity button.";
  const sections = [];
  for (const [group, title] of CLAIM_GROUPS) {
    const members = claims.filter((c) => c.state === group);
    if (!members.length) continue;
    const list = el("ul", {});
    for (const claim of members) {
      const text = claim.text.length > 200 ? `${claim.text.slice(0, 197)}…` : claim.text;
      list.append(el("li", {}, el("button", { type: "button", class: "claim", "data-id": String(claim.id), title: claim.headline }, text)));
    }
    sections.push(el("section", { class: `group state-${group}`, "data-state": group }, el("h2", {}, `${title} (${members.length})`), list));
  }
  $("groups").replaceChildren(...sections);
  filter();
}

function filter() {
  for (const group of $("groups").querySelectorAll(".group"))
    group.hidden = $("only-contradicted").checked && group.dataset.state !== "contradicted";
}

async function follow(id) {
  tabId = id;
  const key = `tab:${tabId}`;
  render((await ext.storage.session.get(key))[key] ?? null);
}

async function main() {
  const param = new URLSearchParams(location.search).get("tab");
  const [active] = param === null ? await ext.tabs.query({ active: true, currentWindow: true }) : [];
  await follow(param !== null ? Number(param) : active?.id);
  ext.storage.onChanged.addListener((changes, area) => {
    const key = `tab:${tabId}`;
    if (area === "session" && key in changes) render(changes[key].newValue ?? null);
  });
  if (param === null) ext.tabs.onActivated.addListener(({ tabId: id }) => follow(id)); // the panel follows the tab
  $("only-contradicted").addEventListener("change", filter);
  $("groups").addEventListener("click", (event) => {
    const button = event.target instanceof Element ? event.target.closest("button.claim") : null;
    if (button) ext.runtime.sendMessage({ type: "veracity:focus-claim", tabId, id: Number(button.dataset.id) });
  });
}

main();
