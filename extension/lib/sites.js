// Per-site choices: whether clicking the button may send a site's pages to the API without asking first.
//
// Kept in storage.local under "sites" as {origin: "always" | "never"}; a site with no entry gets the first-use
// card (what is sent, where, a preview) and nothing leaves the browser until the user picks Check. The choices
// are listed, and can be forgotten, on the options page.

const ext = globalThis.browser ?? globalThis.chrome;

export async function getSiteChoices() {
  return (await ext.storage.local.get({ sites: {} })).sites;
}

/** "always", "never" or null (ask) for a page's origin. */
export async function siteChoice(origin) {
  return (await getSiteChoices())[origin] ?? null;
}

/** Remember `choice` ("always" / "never") for `origin`; null forgets it. */
export async function setSiteChoice(origin, choice) {
  const sites = { ...(await getSiteChoices()) };
  if (choice === null) delete sites[origin];
  else sites[origin] = choice;
  await ext.storage.local.set({ sites });
}

export async function getExcludeComments() {
  return (await ext.storage.local.get({ excludeComments: true })).excludeComments;
}
