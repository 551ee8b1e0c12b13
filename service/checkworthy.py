"""Decide which segments are checkable claims (the rule-based first version).

A heading, a question, an instruction or a greeting must never be reported as an "unsupported" claim,
so these rules lean towards skipping forms that are plainly not assertions and keep everything else.
Each rule names itself in ``reason`` so a reader can see why a sentence was skipped.
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


@dataclass(frozen=True, slots=True)
class Checkworthiness:
    checkworthy: bool
    score: float
    reason: str


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
    if len(words) < 4:
        return Checkworthiness(False, 0.1, "fragment")
    if segment.kind == "list_item" and not TERMINAL_PUNCTUATION.search(text) and len(words) <= 12:
        return Checkworthiness(False, 0.1, "outline entry")
    if segment.kind == "list_item" and len(words) < 6:
        return Checkworthiness(False, 0.2, "short list item")
    return Checkworthiness(True, 0.9, "assertion")


# Forms that are never claims, whatever a model says: the promise is that a heading, a question or an
# outline instruction is never reported as an "unsupported" claim.
HARD_SKIPS = frozenset({"heading", "question", "introduces a list", "greeting", "instruction", "outline entry"})


class CheckworthinessStage:
    """The trained classifier (when it ships) on the shared segment embeddings, with the rules as hard skips."""

    def __init__(self, model=None) -> None:
        self.model = model

    @property
    def name(self) -> str:
        return f"checkworthy-{self.model.revision}" if self.model is not None else "rules"

    def assess(self, segments: list[Segment], embeddings: np.ndarray) -> list[Checkworthiness]:
        rules = [rule_checkworthiness(s) for s in segments]
        if self.model is None or not segments:
            return rules
        scores = self.model.score([s.text for s in segments], [s.kind for s in segments], embeddings)
        results = []
        for rule, score in zip(rules, scores.tolist()):
            if rule.reason in HARD_SKIPS:
                results.append(Checkworthiness(False, min(score, rule.score), rule.reason))
            elif score >= self.model.threshold:
                results.append(Checkworthiness(True, score, "model: factual assertion"))
            else:
                results.append(Checkworthiness(False, score, "model: not a checkable claim"))
        return results
