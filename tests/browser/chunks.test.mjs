// Unit tests of the extension's chunking and offset helpers (node --test; run by tests/test_browser.py).
import assert from "node:assert/strict";
import { test } from "node:test";
import { chunkEnd, codePointToUtf16, contextBefore } from "../../extension/lib/api.js";

const bytes = (s) => new TextEncoder().encode(JSON.stringify({ text: s, check_all: false })).length;

function chunks(text, maxBytes) {
  const out = [];
  for (let start = 0; start < text.length; ) {
    const end = chunkEnd(text, start, maxBytes);
    assert.ok(end > start, "every chunk makes progress");
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

test("a text under the limit is one chunk", () => {
  assert.deepEqual(chunks("One line.\nTwo lines.", 1000), ["One line.\nTwo lines."]);
});

test("chunks end at line breaks, fit the limit and add up to the text", () => {
  const line = "Kratom relieves opioid withdrawal — “a claim” 𝜇 with \"quotes\" and \\ backslashes.";
  const text = Array.from({ length: 80 }, (_, i) => `${i}: ${line}`).join("\n");
  const parts = chunks(text, 1500);
  assert.ok(parts.length > 3);
  assert.equal(parts.join(""), text);
  for (const part of parts.slice(0, -1)) assert.ok(part.endsWith("\n"));
  for (const part of parts) assert.ok(bytes(part) <= 1500, `${bytes(part)} bytes`);
});

test("a single line longer than the limit is cut after a space, never inside a surrogate pair", () => {
  const text = "𝜇𝜇 word ".repeat(400);
  const parts = chunks(text, 1200);
  assert.equal(parts.join(""), text);
  for (const part of parts) {
    assert.ok(bytes(part) <= 1200);
    assert.ok(!/[\uD800-\uDBFF]$/.test(part), "no dangling high surrogate");
  }
  for (const part of parts.slice(0, -1)) assert.ok(part.endsWith(" "));
});

test("code-point offsets map to UTF-16 indices past astral characters", () => {
  const text = "𝜇 ok 😀 two";
  const toUtf16 = codePointToUtf16(text);
  const codePoints = [...text];
  const start = codePoints.indexOf("t");
  assert.equal(text.slice(toUtf16(start), toUtf16(codePoints.length)), "two");
  assert.equal(codePointToUtf16("plain")(3), 3);
});

test("a later part is read with the title and the lines just before it, never the first part", () => {
  const text = "# Fentanyl\nFentanyl is a synthetic opioid.\nIt can be deadly.\n";
  const start = text.indexOf("It can");
  assert.equal(contextBefore(text, 0), "");
  assert.equal(contextBefore(text, start), "# Fentanyl\nFentanyl is a synthetic opioid.\n");
  const long = `# Title\n${"A line of the article that goes on.\n".repeat(100)}Last.\n`;
  const context = contextBefore(long, long.indexOf("Last."));
  assert.ok(context.startsWith("# Title\n\n") && context.length < 1600, context.slice(0, 40));
  assert.ok(context.slice("# Title\n\n".length).startsWith("A line"), "whole lines only");
});
