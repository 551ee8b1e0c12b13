// Options: the API address and key. Saving an address outside the default host permissions
// (127.0.0.1, localhost) asks the browser for that one origin (optional_host_permissions).

import { DEFAULT_API_URL, getHealth, getSettings, normaliseApiUrl, originPattern } from "../lib/api.js";
import { getSiteChoices, setSiteChoice } from "../lib/sites.js";

const ext = globalThis.browser ?? globalThis.chrome;
const $ = (id) => document.getElementById(id);

function say(state, text) {
  $("message").dataset.state = state;
  $("message").textContent = text;
}

function readForm() {
  const apiUrl = normaliseApiUrl($("api-url").value);
  $("api-url").setAttribute("aria-invalid", apiUrl ? "false" : "true");
  return apiUrl ? { apiUrl, apiKey: $("api-key").value.trim() } : null;
}

async function save(event) {
  event.preventDefault();
  const values = readForm();
  if (!values) {
    say("error", "Enter an http:// or https:// address such as http://127.0.0.1:8080 (no query or #fragment).");
    $("api-url").focus();
    return;
  }
  // Ask first, while the click still counts as a user gesture; the browser skips the prompt when the
  // origin is already allowed.
  const origins = [originPattern(values.apiUrl)];
  let allowed = false;
  try {
    allowed = await ext.permissions.request({ origins });
  } catch {
    allowed = await ext.permissions.contains({ origins });
  }
  await ext.storage.local.set(values);
  $("api-url").value = values.apiUrl;
  if (allowed) {
    say("ok", `Saved. Veracity will send page text to ${values.apiUrl} when you press Check.`);
  } else {
    say("error", `Saved, but the browser did not allow ${origins[0]}; checks will fail unless that server allows cross-origin requests.`);
  }
}

async function test() {
  const values = readForm();
  if (!values) {
    say("error", "Enter a valid http:// or https:// address first.");
    return;
  }
  say("", "Contacting the API…");
  try {
    const health = await getHealth(values);
    say("ok", `Connected: ${values.apiUrl} answers (corpus ${health.corpus?.version ?? "?"}, ${health.corpus?.items ?? "?"} items).`);
  } catch (error) {
    say("error", error.message);
  }
}

/** The per-site choices of the popup's first-use card, each with Forget. */
async function showSites() {
  const choices = Object.entries(await getSiteChoices()).sort(([a], [b]) => a.localeCompare(b));
  const items = choices.map(([origin, choice]) => {
    const forget = document.createElement("button");
    forget.type = "button";
    forget.textContent = "Forget";
    forget.addEventListener("click", async () => {
      await setSiteChoice(origin, null);
      showSites();
    });
    const item = document.createElement("li");
    item.dataset.origin = origin;
    item.append(`${origin}: ${choice === "always" ? "always checked" : "never sent"} `, forget);
    return item;
  });
  $("sites").replaceChildren(...items);
  $("no-sites").hidden = items.length > 0;
}

async function main() {
  showSites();
  const settings = await getSettings();
  $("api-url").value = settings.apiUrl;
  $("api-key").value = settings.apiKey;
  $("options").addEventListener("submit", save);
  $("test").addEventListener("click", test);
  $("reset").addEventListener("click", () => {
    $("api-url").value = DEFAULT_API_URL;
    say("", "Press Save to keep the default address.");
  });
}

main();
