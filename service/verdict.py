"""Turn a claim and its retrieved evidence into a label a reader can trust.

Until a stance model is configured, the only verdict available is the similarity baseline: evidence that
is very close in meaning makes the claim a *supported* candidate, anything else is *unsupported*. The
baseline cannot say *contradicted* (a sentence and its negation embed close together), so it is named
for what it is in every response.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from veracity.corpus.schema import GRADE_ORDER
from veracity.models.labels import STANCE_LABELS as STANCES
from veracity.models.labels import VERDICT_LABELS
from veracity.models.support_rule import apply_min_support
from veracity.models.verdict_model import FEATURE_NAMES, GRADE_WEIGHTS, claim_features
from veracity.service.retrieve import Evidence

LABELS = VERDICT_LABELS
# What a verdict rests on, for the page, the extension and exports to put in words (README, "Reason codes").
REASON_CODES = ("supported", "contradicted", "conflicting", "weak_evidence_only", "no_side", "not_covered")
NOT_COVERED = "not covered by the corpus: no retrieved evidence is about this claim"


@dataclass(frozen=True, slots=True)
class ScoredEvidence:
    evidence: Evidence
    stance: str | None  # "supports", "contradicts", "neutral", or None when no stance model read it
    stance_probs: tuple[float, float, float] | None = None  # (supports, contradicts, neutral)
    relevance: float | None = None  # P(the item is about the claim), when a relevance model ran


@dataclass(frozen=True, slots=True)
class Verdict:
    label: str
    confidence: float
    method: str
    evidence: list[ScoredEvidence] = field(default_factory=list)
    reason: str = ""
    driver: str | None = None  # id of the evidence item the label rests on
    reason_code: str = "no_side"  # one of REASON_CODES


@dataclass(frozen=True, slots=True)
class SimilarityBaseline:
    """similarity ≥ threshold → supported candidate; the threshold is an uncalibrated cosine."""

    threshold: float = 0.75
    name: str = "similarity-baseline"

    def decide_many(
        self, claims: list[str], evidence: list[list[Evidence]], timings: dict[str, float] | None = None
    ) -> list[Verdict]:
        return [self.decide(c, e) for c, e in zip(claims, evidence)]

    def decide(self, claim: str, evidence: list[Evidence]) -> Verdict:
        scored = [ScoredEvidence(e, None) for e in evidence]
        graded = [e for e in evidence if e.grade in GRADE_ORDER[1:]]  # low or better
        best = max(graded, key=lambda e: e.similarity, default=None)
        if best is not None and best.similarity >= self.threshold:
            return Verdict(
                "supported",
                confidence=round(best.similarity, 3),
                method=self.name,
                evidence=scored,
                reason=f"evidence {best.id} ({best.grade}) is close in meaning (cosine {best.similarity:.2f})",
                driver=best.id,
                reason_code="supported",
            )
        top = max((e.similarity for e in evidence), default=0.0)
        return Verdict(
            "unsupported",
            confidence=round(1.0 - max(top, 0.0), 3),
            method=self.name,
            evidence=scored,
            reason="no graded evidence close enough in meaning" if evidence else "the corpus has no evidence",
            reason_code="no_side" if evidence else "not_covered",
        )


# Grades a "supported" verdict may rest on. "ungraded" (bulk imports such as SciFact abstracts, which carry
# no GRADE assessment) is allowed so that a user's own corpus can support claims; very_low never alone.
TRUSTED_GRADES = ("high", "moderate", "low", "ungraded")


class StanceVerdict:
    """Relevance first, then the stance cross-encoder, a calibrated combiner, and rules a reader can trust.

    An item the relevance model judges not about the claim is never read for stance: the stance model must pick a
    side on every pair it sees, and an off-topic pair read as "contradicts" is the most embarrassing error a
    fact-checker makes. A claim with no item about it is *unsupported: not covered by the corpus*. For the rest,
    the combiner turns the top-k stances, similarities and grades into calibrated probabilities; the rules then
    refuse any "supported" that rests only on very-low evidence or that contradicting evidence outweighs, because a
    wrong "supported" is the worst error a fact-checker can make.
    """

    name = "stance-combiner"
    can_contradict = True

    # "supported" despite contradicting evidence needs the support to weigh this many times more (strength =
    # stance x similarity x grade weight): when evidence points both ways and neither side clearly dominates,
    # the honest answer is "not conclusive", not a side.
    support_margin = 1.5

    def __init__(self, stance, combiner, min_stance: float = 0.5, min_confidence: float = 0.5, relevance=None) -> None:
        self.stance = stance
        self.combiner = combiner
        self.relevance = relevance
        self.min_stance = min_stance
        # A pair supports only at the stance model's own calibrated cut (stance_config.json), if stricter.
        config = getattr(stance, "config", None)
        self.min_support = max(min_stance, getattr(config, "min_support", min_stance))
        self.min_confidence = min_confidence

    @property
    def revision(self) -> str:
        """The stance model's revision, so a response says which weights read its evidence."""
        return getattr(getattr(self.stance, "config", None), "revision", "")

    def decide_many(
        self, claims: list[str], evidence: list[list[Evidence]], timings: dict[str, float] | None = None
    ) -> list[Verdict]:
        """Verdicts for many claims at once; ``timings`` (if given) gets relevance, stance and combine in ms."""
        timings = {} if timings is None else timings
        t0 = time.perf_counter()
        # A long statement (an imported abstract) is judged by its best-matching passage: the stance model
        # reads 128 tokens, and the finding a claim restates is rarely in an abstract's first sentences.
        texts = [[e.passage or e.statement for e in items] for items in evidence]
        if self.relevance is not None:
            flat = [(c, t) for c, ts in zip(claims, texts) for t in ts]
            rel_flat = self.relevance.score(flat, [e.similarity for items in evidence for e in items])
            relevance, offset = [], 0
            for items in evidence:
                relevance.append(rel_flat[offset : offset + len(items)])
                offset += len(items)
            about = [r >= self.relevance.cut for r in relevance]
        else:
            relevance = [np.full(len(items), np.nan) for items in evidence]
            about = [np.ones(len(items), bool) for items in evidence]
        timings["relevance"] = _ms(t0)
        t0 = time.perf_counter()
        pairs = [(c, t) for c, ts, a in zip(claims, texts, about) for t, keep in zip(ts, a) if keep]
        probs = self.stance.predict(pairs) if pairs else np.zeros((0, 3))
        timings["stance"] = _ms(t0)
        t0 = time.perf_counter()
        per_claim, offset = [], 0
        for a in about:
            # items not about the claim enter the combiner as plain neutral: they take no side
            p = np.tile(np.array([0.0, 0.0, 1.0]), (len(a), 1))
            p[a] = probs[offset : offset + int(a.sum())]
            per_claim.append(p)
            offset += int(a.sum())
        # One combiner call for the whole request: per claim, scikit-learn's overhead was ~5 ms a call.
        features = (
            np.stack(
                [
                    claim_features(p, [e.similarity for e in items], [e.grade for e in items])
                    for p, items in zip(per_claim, evidence)
                ]
            )
            if evidence
            else np.zeros((0, len(FEATURE_NAMES)))
        )
        combined = self.combiner.predict_proba(features) if len(features) else features
        verdicts = [
            self._calibrated(self._decide(items, p, c, a, r))
            for items, p, c, a, r in zip(evidence, per_claim, combined, about, relevance)
        ]
        timings["combine"] = _ms(t0)
        return verdicts

    def _decide(
        self, items: list[Evidence], probs: np.ndarray, combined: np.ndarray, about: np.ndarray, relevance: np.ndarray
    ) -> Verdict:
        labels = apply_min_support(probs, self.min_support).argmax(axis=1)
        scored = [
            ScoredEvidence(
                e,
                STANCES[label] if keep else None,
                _rounded(p) if keep else None,
                None if np.isnan(r) else round(float(r), 4),
            )
            for e, p, label, keep, r in zip(items, probs, labels, about, relevance)
        ]
        if not items:
            return Verdict(
                "unsupported",
                1.0,
                self.name,
                scored,
                "the corpus has no evidence for this claim",
                reason_code="not_covered",
            )
        if not about.any():
            confidence = 1.0 - float(np.max(relevance)) if not np.isnan(relevance).all() else 1.0
            return Verdict("unsupported", confidence, self.name, scored, NOT_COVERED, reason_code="not_covered")
        p = dict(zip(LABELS, combined.tolist()))
        label = max(p, key=lambda k: p[k])
        read = [s for s in scored if s.stance is not None]
        supporting = [s for s in read if s.stance == "supports"]
        contradicting = [s for s in read if s.stance == "contradicts" and _prob(s, 1) >= self.min_stance]
        best_sup = _strongest(supporting, 0)
        best_con = _strongest(contradicting, 1)
        # To assert "contradicted" an item must contradict with P >= min_stance; to hold back a "supported", any
        # item read as contradicting counts, however weakly (a wrong "supported" costs more than a missed one).
        best_opposing = _strongest([s for s in read if s.stance == "contradicts"], 1)

        if label == "supported":
            if best_sup is not None and best_con is not None and _strength(best_con, 1) >= _strength(best_sup, 0):
                label = "contradicted"  # stronger contradicting evidence wins, however sure the combiner was
            elif best_sup is None or p["supported"] < self.min_confidence:
                if best_sup is not None and best_opposing is not None:
                    return self._unsupported(
                        scored,
                        p,
                        f"the evidence conflicts: {best_sup.evidence.id} supports the claim and "
                        f"{best_opposing.evidence.id} contradicts it",
                        "conflicting",
                    )
                return self._unsupported(scored, p, "no evidence clearly supports the claim")
            elif best_sup.evidence.grade not in TRUSTED_GRADES:
                return self._unsupported(
                    scored,
                    p,
                    f"the only supporting evidence ({best_sup.evidence.id}) is {best_sup.evidence.grade.replace('_', ' ')}",
                    "weak_evidence_only",
                )
            elif (
                best_opposing is not None and _strength(best_sup, 0) < self.support_margin * _strength(best_opposing, 1)
            ) or any(
                # an item of the same or a better grade read as contradicting (however weakly, as above): a wrong
                # "supported" is the worst error Veracity can make, so such a split is conflicting, however sure
                # the support
                GRADE_WEIGHTS.get(c.evidence.grade, 0.0) >= GRADE_WEIGHTS.get(best_sup.evidence.grade, 0.0)
                for c in read
                if c.stance == "contradicts"
            ):
                opposing = best_opposing.evidence.id if best_opposing is not None else "an item"
                return self._unsupported(
                    scored,
                    p,
                    f"the evidence conflicts: {opposing} contradicts the claim and the "
                    f"support ({best_sup.evidence.id}) does not clearly outweigh it",
                    "conflicting",
                )
            else:
                return Verdict(
                    "supported",
                    p["supported"],
                    self.name,
                    scored,
                    _because(best_sup, "supports"),
                    best_sup.evidence.id,
                    "supported",
                )
        if label == "contradicted":
            if best_con is None:
                return self._unsupported(scored, p, "no evidence clearly contradicts the claim")
            if (
                best_sup is not None
                and best_sup.evidence.grade in TRUSTED_GRADES
                and _strength(best_sup, 0) > _strength(best_con, 1)
            ):
                return self._unsupported(
                    scored, p, "the evidence conflicts; stronger evidence supports the claim", "conflicting"
                )
            return Verdict(
                "contradicted",
                p["contradicted"],
                self.name,
                scored,
                _because(best_con, "contradicts"),
                best_con.evidence.id,
                "contradicted",
            )
        if supporting and not contradicting and all(s.evidence.grade not in TRUSTED_GRADES for s in supporting):
            return self._unsupported(
                scored, p, "only very-low-certainty evidence supports the claim", "weak_evidence_only"
            )
        return self._unsupported(
            scored,
            p,
            "no relevant evidence takes a side"
            if not (supporting or contradicting)
            else "the evidence is not conclusive",
        )

    def _calibrated(self, verdict: Verdict) -> Verdict:
        """The confidence a reader sees: P(this label is right), when the combiner carries a calibration for the
        verdict's reason code (models/verdict_model.py); otherwise the combiner's probability for the label."""
        calibrate = getattr(self.combiner, "calibrated_confidence", None)
        if calibrate is None:
            return verdict
        return replace(verdict, confidence=round(calibrate(verdict.confidence, verdict.reason_code), 4))

    def _unsupported(
        self, scored: list[ScoredEvidence], p: dict[str, float], reason: str, code: str = "no_side"
    ) -> Verdict:
        return Verdict("unsupported", p["unsupported"], self.name, scored, reason, reason_code=code)


def _rounded(p: np.ndarray) -> tuple[float, float, float]:
    return (round(float(p[0]), 4), round(float(p[1]), 4), round(float(p[2]), 4))


def _prob(scored: ScoredEvidence, column: int) -> float:
    """P(stance) of an item that was read (0 for one the relevance gate kept from the stance model)."""
    return scored.stance_probs[column] if scored.stance_probs is not None else 0.0


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


def _strength(scored: ScoredEvidence, column: int) -> float:
    """How much an item weighs for its side: stance certainty × relevance × GRADE weight.

    A product rather than "grade first": an off-topic high-grade item with a shaky stance must not outweigh
    on-topic moderate evidence, while at equal relevance and stance the higher grade still wins.
    """
    return _prob(scored, column) * max(scored.evidence.similarity, 0.0) * GRADE_WEIGHTS.get(scored.evidence.grade, 0.0)


def _strongest(items: list[ScoredEvidence], column: int) -> ScoredEvidence | None:
    return max(items, key=lambda s: _strength(s, column), default=None)


def _because(scored: ScoredEvidence, stance: str) -> str:
    e = scored.evidence
    return f"{e.id} ({e.grade.replace('_', ' ')}, {e.study_type.replace('_', ' ')}) {stance} the claim"
