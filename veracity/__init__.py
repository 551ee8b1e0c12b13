"""Veracity: check the claims in a text against a graded evidence corpus.

    >>> import veracity
    >>> result = veracity.check("Naloxone can reverse an opioid overdose.")
    >>> [s.verdict.label for s in result.sentences if s.verdict]
    ['supported']
    >>> veracity.verify("Opioid use raises prolactin.", ["Opioid use increases serum prolactin."]).label
    'supported'

``check`` and ``verify`` load the models and open the evidence database once per ``Settings`` and reuse them;
build a ``Pipeline`` yourself (``build_pipeline(settings)``) to hold it explicitly. Names are imported lazily,
so ``import veracity`` stays cheap until a model is needed.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:
    from veracity.service.pipeline import CheckResult, Pipeline
    from veracity.service.pipeline import SentenceResult as SentenceResult
    from veracity.service.pipeline import build_pipeline as build_pipeline
    from veracity.service.retrieve import Evidence as Evidence
    from veracity.service.segment import Segment as Segment
    from veracity.service.settings import Settings
    from veracity.service.verdict import ScoredEvidence as ScoredEvidence
    from veracity.service.verdict import Verdict

_LAZY = {
    "Settings": "veracity.service.settings",
    "Pipeline": "veracity.service.pipeline",
    "CheckResult": "veracity.service.pipeline",
    "SentenceResult": "veracity.service.pipeline",
    "build_pipeline": "veracity.service.pipeline",
    "Evidence": "veracity.service.retrieve",
    "Segment": "veracity.service.segment",
    "Verdict": "veracity.service.verdict",
    "ScoredEvidence": "veracity.service.verdict",
}

__all__ = ["__version__", "check", "verify", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'veracity' has no attribute {name!r}")


@lru_cache(maxsize=4)
def _pipeline(settings: Settings | None) -> Pipeline:
    from veracity.service.pipeline import build_pipeline
    from veracity.service.settings import Settings

    return build_pipeline(settings or Settings.from_env())


def check(text: str, *, check_all: bool = False, settings: Settings | None = None) -> CheckResult:
    """Segment ``text``, pick its check-worthy sentences and give each a verdict with its evidence."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("check() needs a non-empty string of text")
    return _pipeline(settings).check(text, check_all=check_all)


def verify(claim: str, evidence: list[str] | str, *, settings: Settings | None = None) -> Verdict:
    """One claim against evidence texts you bring (graded ``ungraded``), with the service's models and rules."""
    texts = [evidence] if isinstance(evidence, str) else list(evidence)
    if not isinstance(claim, str) or not claim.strip():
        raise ValueError("verify() needs a non-empty claim")
    if not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError("verify() needs at least one non-empty evidence text")
    return _pipeline(settings).verify([(claim.strip(), [t.strip() for t in texts])])[0]
