"""Turn a claim and its retrieved evidence into a label a reader can trust.

Until a stance model is configured, the only verdict available is the similarity baseline: evidence that
is very close in meaning makes the claim a *supported* candidate, anything else is *unsupported*. The
baseline cannot say *contradicted* (a sentence and its negation embed close together), so it is named
for what it is in every response.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from service.retrieve import Evidence

LABELS = ("supported", "contradicted", "unsupported")
GRADE_RANK = {"high": 3, "moderate": 2, "low": 1, "very_low": 0, "ungraded": 0}


@dataclass(frozen=True, slots=True)
class ScoredEvidence:
    evidence: Evidence
    stance: str | None  # "supports", "contradicts", "neutral", or None when no stance model ran
    stance_probs: tuple[float, float, float] | None = None  # (supports, contradicts, neutral)


@dataclass(frozen=True, slots=True)
class Verdict:
    label: str
    confidence: float
    method: str
    evidence: list[ScoredEvidence] = field(default_factory=list)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SimilarityBaseline:
    """similarity ≥ threshold → supported candidate; the threshold is an uncalibrated cosine."""

    threshold: float = 0.75
    name: str = "similarity-baseline"

    def decide_many(self, claims: list[str], evidence: list[list[Evidence]]) -> list[Verdict]:
        return [self.decide(c, e) for c, e in zip(claims, evidence)]

    def decide(self, claim: str, evidence: list[Evidence]) -> Verdict:
        scored = [ScoredEvidence(e, None) for e in evidence]
        graded = [e for e in evidence if GRADE_RANK.get(e.grade, 0) > 0]
        best = max(graded, key=lambda e: e.similarity, default=None)
        if best is not None and best.similarity >= self.threshold:
            return Verdict(
                "supported",
                confidence=round(best.similarity, 3),
                method=self.name,
                evidence=scored,
                reason=f"evidence {best.id} ({best.grade}) is close in meaning (cosine {best.similarity:.2f})",
            )
        top = max((e.similarity for e in evidence), default=0.0)
        return Verdict(
            "unsupported",
            confidence=round(1.0 - max(top, 0.0), 3),
            method=self.name,
            evidence=scored,
            reason="no graded evidence close enough in meaning" if evidence else "the corpus has no evidence",
        )
