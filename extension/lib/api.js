// The Veracity /v1 client shared by the service worker, the popup and the options page.
//
// Everything that leaves the browser goes through `postCheck` and `getHealth`, to the one API URL the
// user configured; nothing else is ever contacted.

export const DEFAULT_API_URL = "http://127.0.0.1:8080";

// A page goes in parts of about 12 KB (80-100 sentences, a second or two of model work on two cores), so
// highlights appear as each part comes back and Cancel stops between parts. A server configured with a smaller
// body limit answers 413 body_too_large, and the part is halved until it fits.
export const FIRST_CHUNK_BYTES = 12_000;
const SMALLEST_CHUNK_BYTES = 1_000;
const REQUEST_TIMEOUT_MS = 120_000;

const ext = globalThis.browser ?? globalThis.chrome;

/** Why a request failed, in words the in-page message and the popup can show as they are. */
export class ApiError extends Error {
  constructor(kind, message, { code = null, status = null } = {}) {
    super(message);
    this.kind = kind; // "unreachable" | "api_error" | "bad_response" | "no_text" | "page" | "cancelled"
    this.code = code;
    this.status = status;
  }
}

export async function getSettings() {
  const stored = await ext.storage.local.get({ apiUrl: DEFAULT_API_URL, apiKey: "" });
  return { apiUrl: normaliseApiUrl(stored.apiUrl) ?? DEFAULT_API_URL, apiKey: stored.apiKey || "" };
}

/** `http(s)://host[:port][/path]` without a trailing slash, or null when it is not an http(s) URL. */
export function normaliseApiUrl(raw) {
  let url;
  try {
    url = new URL(String(raw).trim());
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  if (url.username || url.password || url.search || url.hash) return null;
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

/** The host permission pattern for an API URL (match patterns carry no port, so this covers all ports). */
export function originPattern(apiUrl) {
  const url = new URL(apiUrl);
  return `${url.protocol}//${url.hostname}/*`;
}

async function request(settings, path, init = {}) {
  const headers = { Accept: "application/json", ...(init.headers || {}) };
  if (settings.apiKey) headers["X-API-Key"] = settings.apiKey;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), init.timeoutMs ?? REQUEST_TIMEOUT_MS);
  const cancel = () => controller.abort(); // the user's Cancel (init.signal) stops the request in flight
  init.signal?.addEventListener("abort", cancel, { once: true });
  let response;
  try {
    response = await fetch(settings.apiUrl + path, {
      ...init,
      headers,
      signal: controller.signal,
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
    });
  } catch (error) {
    if (init.signal?.aborted) throw cancelled();
    const why = error?.name === "AbortError" ? "did not answer in time" : "could not be reached";
    throw new ApiError(
      "unreachable",
      `The Veracity API at ${settings.apiUrl} ${why}. Start it with "veracity serve", or set its address in the extension's options.`,
    );
  } finally {
    clearTimeout(timer);
    init.signal?.removeEventListener("abort", cancel);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (body && body.ok === false && body.error) {
    const { code, message, status } = body.error;
    throw new ApiError("api_error", `The Veracity API answered with an error: ${message} (${code})`, {
      code,
      status: status ?? response.status,
    });
  }
  if (!response.ok || !body || body.ok !== true) {
    throw new ApiError(
      "bad_response",
      `The server at ${settings.apiUrl} did not answer like a Veracity API (HTTP ${response.status}). Check the API address in the extension's options.`,
      { status: response.status },
    );
  }
  return body;
}

export function getHealth(settings) {
  return request(settings, "/v1/health", { method: "GET", timeoutMs: 5_000 });
}

export function postCheck(settings, text, signal = undefined, context = "") {
  return request(settings, "/v1/check", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(context ? { text, check_all: false, context } : { text, check_all: false }),
    signal,
  });
}

const CONTEXT_CHARS = 1500;

/**
 * What a part of a long page is read with so its claims are built in context (the API's `context` field):
 * the page title (a first line sent as "# Title") and the last whole lines before `start`. Without it,
 * "It can be deadly." at the top of a part loses what *it* is, and the same sentence is checked as two
 * different claims depending on where a part happens to start.
 */
export function contextBefore(text, start) {
  if (start <= 0) return "";
  let tail = text.slice(Math.max(0, start - CONTEXT_CHARS), start);
  if (start > CONTEXT_CHARS && tail.includes("\n")) tail = tail.slice(tail.indexOf("\n") + 1); // whole lines
  const first = text.slice(0, text.indexOf("\n") === -1 ? text.length : text.indexOf("\n"));
  const title = first.startsWith("# ") && first.length <= 300 && start > first.length ? first : "";
  return title && !tail.startsWith(title) ? `${title}\n\n${tail}` : tail;
}

const cancelled = () => new ApiError("cancelled", "Cancelled: the rest of the page was not sent.");

const encoder = new TextEncoder();

/** Bytes that `text` adds to a JSON request body. */
function jsonBytes(text) {
  return encoder.encode(JSON.stringify(text)).length - 2;
}

const BODY_OVERHEAD_BYTES = 40; // {"text": "", "check_all": false}

/**
 * End (exclusive, UTF-16 index) of the chunk of `text` that starts at `start` and fits in `maxBytes`
 * of request body. Chunks end after a line break where one fits, so a chunk never cuts a paragraph
 * (and so never cuts a sentence); a single line longer than the limit is cut after a space.
 */
export function chunkEnd(text, start, maxBytes) {
  const budget = maxBytes - BODY_OVERHEAD_BYTES;
  if (jsonBytes(text.slice(start)) <= budget) return text.length;
  let end = start;
  let used = 0;
  while (end < text.length) {
    const newline = text.indexOf("\n", end);
    const lineEnd = newline === -1 ? text.length : newline + 1;
    const cost = jsonBytes(text.slice(end, lineEnd));
    if (used + cost > budget) break;
    used += cost;
    end = lineEnd;
  }
  if (end > start) return end;
  // One line longer than the budget: binary-search the longest prefix that fits, then back off to a space.
  let lo = start + 1;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonBytes(text.slice(start, mid)) <= budget) lo = mid;
    else hi = mid - 1;
  }
  if (/[\uD800-\uDBFF]/.test(text[lo - 1] ?? "")) lo -= 1; // never split a surrogate pair
  const space = text.lastIndexOf(" ", lo - 1);
  return space > start ? space + 1 : Math.max(lo, start + 1);
}

/** Maps a code-point offset in `text` (what the Python API returns) to a UTF-16 index (what JS uses). */
export function codePointToUtf16(text) {
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

/**
 * Check `text` chunk by chunk. Calls `onChunk({start, end, response})` after each chunk (`start` and
 * `end` are UTF-16 indices into `text`) so the caller can highlight and report progress as it goes.
 */
export async function checkInChunks(settings, text, onChunk, { firstChunkBytes = FIRST_CHUNK_BYTES, signal } = {}) {
  let maxBytes = firstChunkBytes;
  let start = 0;
  let chunks = 0;
  while (start < text.length) {
    if (signal?.aborted) throw cancelled();
    const context = contextBefore(text, start);
    const end = chunkEnd(text, start, maxBytes - jsonBytes(context));
    const piece = text.slice(start, end);
    if (!piece.trim()) {
      start = end;
      continue;
    }
    let response;
    try {
      response = await postCheck(settings, piece, signal, context);
    } catch (error) {
      const tooBig = error instanceof ApiError && (error.code === "body_too_large" || error.code === "too_many_sentences");
      if (tooBig && maxBytes > SMALLEST_CHUNK_BYTES) {
        maxBytes = Math.max(SMALLEST_CHUNK_BYTES, Math.floor(maxBytes / 2));
        continue;
      }
      throw error;
    }
    chunks += 1;
    await onChunk({ start, end, response, chunks });
    start = end;
  }
  return { chunks, chunkBytes: maxBytes };
}
