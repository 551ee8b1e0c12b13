"""Audit a corpus: every item traceable to a real source, graded, well-formed, and not a duplicate.

Near-duplicates are found by embedding similarity, because two paraphrases of one finding would count
twice towards a verdict and make a claim look better supported than it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from veracity.corpus.schema import GRADES, validate_item
from veracity.corpus.sources import source_problems

NEAR_DUPLICATE_COSINE = 0.95


@dataclass
class AuditReport:
    items: int = 0
    failures: list[str] = field(default_factory=list)
    near_duplicates: list[tuple[str, str, float]] = field(default_factory=list)  # same source: a failure
    corroborating: list[tuple[str, str, float]] = field(default_factory=list)  # different sources: listed
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures and not self.near_duplicates


def audit_items(
    items: Iterable[dict[str, Any]], vectors: np.ndarray | None = None, threshold: float = NEAR_DUPLICATE_COSINE
) -> AuditReport:
    """Check ``items`` (with their unit-length ``vectors`` in the same order, if given)."""
    items = list(items)
    report = AuditReport(items=len(items))
    seen_ids: set[str] = set()
    seen_statements: dict[str, str] = {}
    for item in items:
        item_id = str(item.get("id"))
        for problem in validate_item(item) + source_problems(item):
            report.failures.append(f"{item_id}: {problem}")
        if item.get("grade") == "ungraded":
            report.warnings.append(f"{item_id}: ungraded (no GRADE assessment; it weighs less in verdicts)")
        elif item.get("grade") not in GRADES:
            report.failures.append(f"{item_id}: no grade")
        if item_id in seen_ids:
            report.failures.append(f"{item_id}: duplicate id")
        seen_ids.add(item_id)
        key = " ".join(str(item.get("statement", "")).lower().split())
        if key in seen_statements:
            report.failures.append(f"{item_id}: same statement as {seen_statements[key]}")
        seen_statements.setdefault(key, item_id)
    if vectors is not None and len(items) > 1:
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -1.0)
        rows, cols = np.where(np.triu(sims, k=1) >= threshold)
        for i, j in zip(rows.tolist(), cols.tolist()):
            pair = (str(items[i]["id"]), str(items[j]["id"]), round(float(sims[i, j]), 3))
            # The same finding from two independent sources is corroboration, not a duplicate; the same
            # finding twice from one source would count twice towards a verdict.
            same_source = _source(items[i]) == _source(items[j])
            (report.near_duplicates if same_source else report.corroborating).append(pair)
    return report


def _source(item: dict[str, Any]) -> str:
    return str(item.get("pmid") or item.get("doi") or item.get("source_url") or item.get("source_title")).lower()
