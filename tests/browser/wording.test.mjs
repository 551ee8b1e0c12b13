// Unit tests of describeVerdict / describeScope (node --test; run by tests/test_browser.py). Both copies,
// service/static/wording.js (the web page) and extension/lib/wording.js (the extension), are loaded and
// must word every verdict the same way.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

async function load(path) {
  delete globalThis.veracityWording;
  await import(path); // a classic script: it sets globalThis.veracityWording
  return globalThis.veracityWording;
}
const page = await load("../../service/static/wording.js");
const extension = await load("../../extension/lib/wording.js");

// The canned verdicts the browser tests show, with evidence fields from the test corpus.
const corpus = new Map(
  readFileSync(new URL("../data/evidence.jsonl", import.meta.url), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line))
    .map((item) => [item.id, item]),
);
const states = JSON.parse(readFileSync(new URL("fixtures/verdict_states.json", import.meta.url), "utf8")).sentences;
const verdicts = states.map(({ verdict }) => ({
  ...verdict,
  evidence: verdict.evidence.map(([id, stance]) => ({ ...corpus.get(id), stance, score: 0.7 })),
}));
const [supported, contradicted, mixed, weakOnly, noSide, notCovered] = verdicts.map((v) => page.describeVerdict(v));

test("the page's copy and the extension's copy word every verdict identically", () => {
  const extra = [
    { label: "supported", confidence: 0.3, driven_by: "x", evidence: [{ id: "x", grade: "moderate", stance: "supports" }] },
    { label: "supported", confidence: 0.9, evidence: [{ id: "y", grade: "ungraded", stance: "supports" }] },
    { label: "unsupported", confidence: 1, reason_code: "not_covered", evidence: [] },
    { label: "contradicted", confidence: 0.7, evidence: [] },
  ];
  for (const verdict of [...verdicts, ...extra]) {
    assert.deepEqual(extension.describeVerdict(verdict), page.describeVerdict(verdict));
  }
  const health = { version: "x", items: 1212, topics: [{ topic: "kratom", items: 149 }, { topic: "covid-19-vaccines", items: 9 }] };
  assert.equal(extension.describeScope(health), page.describeScope(health));
});

test("supported: the deciding item's GRADE gives the strength, and it comes first", () => {
  assert.equal(supported.state, "supported");
  assert.equal(supported.headline, "Supported by strong evidence");
  assert.equal(supported.strength, "strong");
  assert.equal(supported.detail, "82% confidence · deciding evidence: GRADE high");
  assert.equal(
    supported.reason,
    "“Buprenorphine maintenance versus placebo or methadone maintenance for…” (Cochrane Database of Systematic Reviews, 2014) supports it.",
  );
  assert.deepEqual(supported.items.map((i) => [i.index, i.chip, i.deciding]), [
    [1, "Supports this", true],
    [0, "Takes no side", false],
    [2, "Takes no side", false],
  ]);
  assert.equal(supported.shown, 1);
});

test("under 50% confidence the strength is one step weaker than the GRADE", () => {
  assert.equal(contradicted.headline, "Contradicted by moderate evidence"); // GRADE high, 44%
  assert.equal(contradicted.strength, "moderate");
  assert.match(contradicted.detail, /^44% confidence · deciding evidence: GRADE high · one step weaker/);
  assert.equal(contradicted.items[0].index, 1, "driven_by, not the first item, decides");
  assert.equal(contradicted.items[0].chip, "Contradicts this");
  const low = (grade, confidence) =>
    page.describeVerdict({ label: "supported", confidence, driven_by: "a", evidence: [{ id: "a", grade, stance: "supports" }] }).strength;
  assert.deepEqual(
    [low("high", 0.5), low("moderate", 0.9), low("moderate", 0.49), low("low", 0.9), low("very_low", 0.9), low("low", 0.2), low(undefined, 0.9)],
    ["strong", "moderate", "weak", "weak", "weak", "weak", "weak"],
  );
});

test("conflicting evidence is mixed, counted, with one item for and one against first", () => {
  assert.equal(mixed.state, "mixed");
  assert.equal(mixed.headline, "Mixed evidence (1 for, 1 against)");
  assert.equal(mixed.strength, null);
  assert.deepEqual(mixed.items.slice(0, 2).map((i) => [i.index, i.chip]), [
    [1, "Supports this"],
    [2, "Contradicts this"],
  ]);
  assert.equal(mixed.shown, 2);
  assert.match(mixed.reason, /^“Mortality risk during .*” \(BMJ, 2017\) supports it; “Medication for .*” \(Annals of Internal Medicine, 2018\) contradicts it\.$/);
});

test("unsupported is 'Not enough evidence'; not covered is its own neutral state", () => {
  assert.equal(weakOnly.headline, "Not enough evidence");
  assert.equal(weakOnly.strength, "weak");
  assert.equal(weakOnly.items[0].index, 1);
  assert.match(weakOnly.reason, /^Only very-low-certainty evidence supports it: “Kratom as a substitute for opioids/);
  assert.equal(noSide.headline, "Not enough evidence");
  assert.equal(noSide.strength, null);
  assert.equal(noSide.reason, "None of the 2 related items found clearly supports or contradicts it.");
  assert.equal(noSide.shown, 1);
  assert.equal(notCovered.state, "not_covered");
  assert.equal(notCovered.headline, "Not covered by the corpus");
  assert.equal(notCovered.icon, "–");
  assert.equal(notCovered.strength, null);
  assert.equal(notCovered.shown, 0, "items not about the claim stay behind More evidence");
  assert.deepEqual(notCovered.items.map((i) => i.chip), ["", ""]);
});

test("no wording names an internal evidence id", () => {
  for (const words of [supported, contradicted, mixed, weakOnly, noSide, notCovered]) {
    const shown = [words.headline, words.detail, words.reason].join(" ");
    assert.doesNotMatch(shown, /\b(opioids|kratom|health)-\d{3}\b/, shown);
  }
});

test("the scope names the item count and the main topics", () => {
  const topics = ["kratom", "prolactin", "naloxone", "covid-19-vaccines", "medications-for-oud", "alcohol", "fentanyl"];
  assert.equal(
    page.describeScope({ items: 1212, topics: topics.map((topic, i) => ({ topic, items: 100 - i })) }),
    "The evidence corpus has 1,212 items, mostly on kratom, prolactin, naloxone, covid-19 vaccines, medications for oud and alcohol. " +
      "Claims on other topics come back as “Not covered by the corpus”.",
  );
  assert.equal(page.describeScope({ items: 1, topics: [{ topic: "kratom", items: 1 }] }).split(".")[0], "The evidence corpus has 1 item, all on kratom");
  assert.equal(page.describeScope(undefined), "");
});
