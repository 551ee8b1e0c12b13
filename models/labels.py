"""The label sets, defined once: what the stance model reads and what a verdict says.

A module of its own, free of torch, so that the HTTP layer, the OpenAPI document, batch exports and the verdict
rules can name the labels without importing a model (``import veracity.models.stance`` costs a second of torch).
"""

from __future__ import annotations

# The stance cross-encoder's output order (models/stance/config.json's id2label follows it).
STANCE_LABELS: tuple[str, str, str] = ("supports", "contradicts", "neutral")
# A claim's verdict.
VERDICT_LABELS: tuple[str, str, str] = ("supported", "contradicted", "unsupported")
