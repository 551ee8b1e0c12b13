"""Decide which segments are checkable claims, and how much checking each one matters.

Two questions, two answers (issue 17). ``checkworthy``: is this a verifiable factual assertion about the world?
It decides whether a sentence gets a verdict, and leans towards yes: a sentence checked and found "unsupported"
costs a reader less than a claim never looked at. ``priority`` (0-1): how much it matters to check it (health
advice, numbers, causal and safety claims score high); it only orders claims for the reader.

A heading, a question, an instruction or a greeting must never be reported as an "unsupported" claim, so rules
skip forms that are plainly not assertions whatever a model says; each names itself in ``reason``. A list item
that continues a lead-in ("Symptoms include:" / "Nausea and vomiting") is not an outline entry: it is read as
the claim it completes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from veracity.service.segment import TERMINAL_PUNCTUATION, Segment

# Verbs that open outline instructions and calls to action ("Explain ...", "Highlight ...").
IMPERATIVE_VERBS = frozenset(
    """add analyze analyse ask avoid begin call check choose click compare consider contact continue create
    define describe discover discuss do download download enjoy ensure explain explore find follow get give go
    highlight imagine join keep learn let list look make mention note order outline provide read remember
    review see share sign start stop subscribe summarize summarise take talk tell try understand use visit
    watch""".split()
)
GREETINGS = re.compile(r"^(hi|hello|hey|welcome|thanks|thank you|dear|cheers|good (morning|afternoon|evening))\b", re.I)
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
# More words than any sentence, and no sentence end: text pasted without punctuation, not one claim.
RUN_ON_WORDS = 150


@dataclass(frozen=True, slots=True)
class Checkworthiness:
    checkworthy: bool
    score: float  # how sure the verifiable model (or rule) is that this is a checkable assertion
    reason: str
    priority: float | None = None  # 0-1, how much checking it matters; None when not checkworthy


def rule_checkworthiness(segment: Segment) -> Checkworthiness:
    """Return whether the segment is a factual assertion worth checking, and why."""
    text = segment.text.strip()
    words = _WORD.findall(text)
    if segment.kind == "heading":
        return Checkworthiness(False, 0.0, "heading")
    if text.endswith("?"):
        return Checkworthiness(False, 0.05, "question")
    if text.endswith(":"):
        return Checkworthiness(False, 0.05, "introduces a list")
    if GREETINGS.match(text):
        return Checkworthiness(False, 0.05, "greeting")
    if words and words[0].lower() in IMPERATIVE_VERBS:
        return Checkworthiness(False, 0.1, "instruction")
    if not words:
        return Checkworthiness(False, 0.0, "no words")
    if len(words) > RUN_ON_WORDS and not TERMINAL_PUNCTUATION.search(text):
        return Checkworthiness(False, 0.0, "run-on text")
    if len(words) < 4:
        return Checkworthiness(False, 0.1, "fragment")
    if segment.kind == "list_item" and not TERMINAL_PUNCTUATION.search(text) and len(words) <= 12:
        return Checkworthiness(False, 0.1, "outline entry")
    if segment.kind == "list_item" and len(words) < 6:
        return Checkworthiness(False, 0.2, "short list item")
    return Checkworthiness(True, 0.9, "assertion")


# Forms that are never claims, whatever a model says: the promise is that a heading, a question or an
# outline instruction is never reported as an "unsupported" claim.
HARD_SKIPS = frozenset(
    {"heading", "question", "introduces a list", "greeting", "instruction", "outline entry", "no words", "run-on text"}
)


# A list item completing a lead-in is a claim, not an outline line: these rules do not skip it.
LIST_RULES = frozenset({"outline entry", "short list item", "fragment"})


class CheckworthinessStage:
    """The verifiable classifier on the shared embeddings, rules as hard skips, and the priority model.

    ``model`` answers "verifiable?" (``models/verifiable``); ``priority_model`` is the check-worthiness model
    trained on CT24/ClaimBuster (``models/checkworthy``), whose score orders the claims. Either may be missing:
    without ``model`` the rules decide, without ``priority_model`` there is no priority.
    """

    def __init__(self, model=None, priority_model=None) -> None:
        self.model = model
        self.priority_model = priority_model

    @property
    def name(self) -> str:
        name = f"verifiable-{self.model.revision}" if self.model is not None else "rules"
        if self.priority_model is not None:
            name += f"+priority-{self.priority_model.revision}"
        return name

    def rules(self, segments: list[Segment], claims: list[str | None]) -> list[Checkworthiness]:
        """The rules' answer per segment. A rule in HARD_SKIPS rules a segment out whatever a model says, so it
        needs no embedding (a 200 KB body of full stops is 50 segments of 256 tokens, two seconds for nothing);
        the pipeline reads them once and passes them to ``assess``."""
        return _rules(segments, claims)

    def assess(
        self,
        segments: list[Segment],
        embeddings: np.ndarray,
        claims: list[str | None] | None = None,
        rules: list[Checkworthiness] | None = None,
    ) -> list[Checkworthiness]:
        """``embeddings`` are of the text each segment is checked as (its resolved claim where it has one)."""
        claims = claims or [None] * len(segments)
        texts = [c or s.text for s, c in zip(segments, claims)]
        kinds = ["sentence" if c is not None and s.kind == "list_item" else s.kind for s, c in zip(segments, claims)]
        rules = rules if rules is not None else _rules(segments, claims)
        if not segments:
            return rules
        priority = (
            self.priority_model.score(texts, kinds, embeddings).tolist()
            if self.priority_model is not None
            else [None] * len(segments)
        )
        if self.model is None:
            return [
                Checkworthiness(r.checkworthy, r.score, r.reason, p if r.checkworthy else None)
                for r, p in zip(rules, priority)
            ]
        scores = self.model.score(texts, kinds, embeddings)
        results = []
        for rule, score, p in zip(rules, scores.tolist(), priority):
            if rule.reason in HARD_SKIPS:
                results.append(Checkworthiness(False, min(score, rule.score), rule.reason))
            elif score >= self.model.threshold:
                results.append(Checkworthiness(True, score, "model: verifiable assertion", p))
            else:
                results.append(Checkworthiness(False, score, "model: not a verifiable assertion"))
        return results


def _rules(segments: list[Segment], claims: list[str | None]) -> list[Checkworthiness]:
    rules = []
    for segment, claim in zip(segments, claims):
        rule = rule_checkworthiness(segment)
        if claim is not None and segment.kind == "list_item" and rule.reason in LIST_RULES:
            rule = Checkworthiness(True, 0.9, "assertion: completes its lead-in")
        rules.append(rule)
    return rules
