// Verdicts and the corpus's scope in words, the same on the web page and in the extension.
//
// Two identical copies: service/static/wording.js (the page, shipped in the Python wheel) and
// extension/lib/wording.js (the extension, which can only load files from its own folder). A test in
// tests/test_browser.py fails when they differ, and tests/browser/wording.test.mjs runs both.
// A classic script, not a module: the injected content script cannot import, so every surface loads it
// the same way and reads globalThis.veracityWording.

(() => {
  // GRADE certainty of the deciding evidence -> how strong the verdict is; one step weaker under 50%.
  const STRENGTH_BY_GRADE = { high: "strong", moderate: "moderate", low: "weak", very_low: "weak" };
  const WEAKER = { strong: "moderate", moderate: "weak", weak: "weak" };
  const STANCE_CHIPS = { supports: "Supports this", contradicts: "Contradicts this", neutral: "Takes no side" };
  const ICONS = { supported: "✓", contradicted: "✗", mixed: "±", not_enough: "?", not_covered: "–" };

  const words = (s) => String(s).replace(/_/g, " ");

  function shorten(text, max) {
    if (text.length <= max) return text;
    const cut = text.lastIndexOf(" ", max - 1);
    return `${text.slice(0, cut > max / 2 ? cut : max - 1)}…`;
  }

  /** The source an item comes from, by title and publisher: never by the corpus's internal id. */
  function sourceName(e) {
    const where = [e.publisher, e.year].filter(Boolean).join(", ");
    if (e.source_title) return `“${shorten(e.source_title, 70)}”` + (where ? ` (${where})` : "");
    return where || "an evidence item";
  }

  /**
   * A verdict from POST /v1/check in words: `state` (supported, contradicted, mixed, not_enough,
   * not_covered), `headline`, `strength` (strong, moderate, weak or null), `detail` (the bare numbers),
   * `reason` (one line naming the source), `icon`, and `items`: the evidence in display order, deciding
   * evidence first, each {index, chip, deciding}; `shown` of them are shown before "More evidence".
   */
  function describeVerdict(verdict) {
    const evidence = verdict.evidence || [];
    const percent = Math.round((verdict.confidence ?? 0) * 100);
    const find = (stance) => evidence.findIndex((e) => e.stance === stance);
    const driver = evidence.findIndex((e) => verdict.driven_by && e.id === verdict.driven_by);
    let state;
    let deciding = [];
    if (verdict.label === "supported" || verdict.label === "contradicted") {
      state = verdict.label;
      const fallback = find(state === "supported" ? "supports" : "contradicts");
      deciding = [driver >= 0 ? driver : fallback >= 0 ? fallback : 0].filter((i) => i < evidence.length);
    } else if (verdict.reason_code === "conflicting") {
      state = "mixed";
      deciding = [find("supports"), find("contradicts")].filter((i) => i >= 0);
    } else if (verdict.reason_code === "not_covered") {
      state = "not_covered";
    } else {
      state = "not_enough";
      if (verdict.reason_code === "weak_evidence_only" && find("supports") >= 0) deciding = [find("supports")];
    }

    let strength = null;
    let grade = null;
    let lowered = false;
    if (deciding.length === 1) {
      grade = evidence[deciding[0]].grade || null;
      strength = STRENGTH_BY_GRADE[grade] || "weak"; // ungraded evidence carries no GRADE certainty
      if (percent < 50 && (state === "supported" || state === "contradicted")) {
        lowered = WEAKER[strength] !== strength;
        strength = WEAKER[strength];
      }
    }

    const count = (stance) => evidence.filter((e) => e.stance === stance).length;
    const first = deciding.length ? evidence[deciding[0]] : null;
    let headline;
    let reason;
    if (state === "supported") {
      headline = strength ? `Supported by ${strength} evidence` : "Supported by the evidence";
      reason = first ? `${sourceName(first)} supports it.` : "The evidence supports it.";
    } else if (state === "contradicted") {
      headline = strength ? `Contradicted by ${strength} evidence` : "Contradicted by the evidence";
      reason = first ? `${sourceName(first)} contradicts it.` : "The evidence contradicts it.";
    } else if (state === "mixed") {
      headline = `Mixed evidence (${count("supports")} for, ${count("contradicts")} against)`;
      const [pro, con] = [find("supports"), find("contradicts")].map((i) => (i >= 0 ? evidence[i] : null));
      reason =
        pro && con
          ? `${sourceName(pro)} supports it; ${sourceName(con)} contradicts it.`
          : "The evidence points both ways and neither side clearly outweighs the other.";
    } else if (state === "not_covered") {
      headline = "Not covered by the corpus";
      reason = "No evidence in the corpus is about this claim, so Veracity cannot say whether it is true.";
    } else {
      headline = "Not enough evidence";
      if (verdict.reason_code === "weak_evidence_only" && first) {
        reason = `Only very-low-certainty evidence supports it: ${sourceName(first)}.`;
      } else if (evidence.length) {
        const n = evidence.length;
        reason = `None of the ${n} related item${n === 1 ? "" : "s"} found clearly supports or contradicts it.`;
      } else {
        reason = "The corpus has no evidence for it.";
      }
    }

    let detail = `${percent}% confidence`;
    if (grade) detail += ` · deciding evidence: GRADE ${words(grade)}`;
    if (lowered) detail += " · one step weaker: confidence under 50%";

    // Deciding evidence first; with none, the closest item leads unless nothing found is about the claim.
    const rest = evidence.map((_, i) => i).filter((i) => !deciding.includes(i));
    const order = [...deciding, ...rest];
    const shown = deciding.length || (state === "not_enough" && evidence.length ? 1 : 0);
    const items = order.map((index) => ({
      index,
      chip: STANCE_CHIPS[evidence[index].stance] || "",
      deciding: deciding.includes(index),
    }));
    return { state, icon: ICONS[state], headline, strength, detail, reason, items, shown };
  }

  /** What the corpus covers, from GET /v1/health's `corpus`: item count and main topics. */
  function describeScope(corpus) {
    if (!corpus || typeof corpus.items !== "number") return "";
    const items = corpus.items.toLocaleString("en");
    const topics = (corpus.topics || []).slice(0, 6).map((t) => String(t.topic).replace(/-(?!\d)/g, " "));
    let text = `The evidence corpus has ${items} item${corpus.items === 1 ? "" : "s"}`;
    if (topics.length === 1) text += `, all on ${topics[0]}`;
    if (topics.length > 1) text += `, mostly on ${topics.slice(0, -1).join(", ")} and ${topics[topics.length - 1]}`;
    return `${text}. Claims on other topics come back as “Not covered by the corpus”.`;
  }

  /** The claims list's groups, in the order a reader should see them: what is wrong first. */
  const CLAIM_GROUPS = Object.freeze([
    ["contradicted", "Contradicted"],
    ["mixed", "Mixed evidence"],
    ["supported", "Supported"],
    ["not_enough", "Not enough evidence"],
    ["not_covered", "Not covered by the corpus"],
  ]);

  globalThis.veracityWording = Object.freeze({ describeVerdict, describeScope, CLAIM_GROUPS });
})();
