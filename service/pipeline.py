"""Wire the stages: segment → check-worthiness → retrieve → verdict.

Each stage is a small function or object over plain dataclasses, so the API, the CLI and the batch runner
all call this one ``Pipeline.check`` and can never drift apart. Check-worthy sentences of a request are
embedded in one batch and the embeddings reused by every later stage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from veracity.corpus.store import EvidenceStore
from veracity.models.embedder import DIMENSIONS, Embedder, load_embedder
from veracity.service.checkworthy import HARD_SKIPS, Checkworthiness, CheckworthinessStage
from veracity.service.context import resolve_claims
from veracity.service.errors import ModelFileError
from veracity.service.retrieve import Evidence, Retriever, RetrieverConfig
from veracity.service.segment import Segment, segment
from veracity.service.verdict import LABELS, SimilarityBaseline, StanceVerdict, Verdict
from veracity.service.verdict_cache import LRUCache

if TYPE_CHECKING:
    from veracity.service.settings import Settings

log = logging.getLogger(__name__)


class TooManySentences(ValueError):
    def __init__(self, found: int, limit: int) -> None:
        # segmenting stops soon after the limit, so ``found`` is a lower bound
        super().__init__(f"The text has more than {limit} sentences (the limit). Split it into several requests.")
        self.found = found
        self.limit = limit


class DeadlineExceeded(RuntimeError):
    """The request ran past its deadline; the work stopped at the next chunk boundary (nothing half-written)."""


class Abandoned(RuntimeError):
    """The client closed the connection before its answer: the rest of the work was dropped at a chunk boundary."""


# Claims decided per verdict call when a deadline is set: small enough that a request stops within about a second
# of its deadline on two cores, large enough that batching still pays.
DEADLINE_CHUNK = 64
EMBED_CHUNK = 256  # sentences embedded between two deadline checks


class VerdictMaker(Protocol):
    @property
    def name(self) -> str: ...

    def decide_many(
        self, claims: list[str], evidence: list[list[Evidence]], timings: dict[str, float] | None = None
    ) -> list[Verdict]: ...


@dataclass(frozen=True, slots=True)
class SentenceResult:
    segment: Segment
    checkworthiness: Checkworthiness
    verdict: Verdict | None
    claim: str | None = None  # what was checked, when the sentence needed its context (service/context.py)


@dataclass(frozen=True, slots=True)
class CheckResult:
    sentences: list[SentenceResult]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def summary(self) -> dict[str, int]:
        counts = {label: 0 for label in LABELS}
        counts["not_checkworthy"] = 0
        for s in self.sentences:
            if s.verdict is None:
                counts["not_checkworthy"] += 1
            else:
                counts[s.verdict.label] += 1
        return counts


class Pipeline:
    def __init__(
        self,
        embedder: Embedder,
        retriever: Retriever,
        verdict: VerdictMaker,
        checkworthiness: CheckworthinessStage | None = None,
        cache_size: int = 4096,
    ) -> None:
        self.embedder = embedder
        self.retriever = retriever
        self.verdict = verdict
        self.checkworthiness = checkworthiness or CheckworthinessStage()
        self.cache: LRUCache[Verdict] = LRUCache(cache_size)
        # Re-checking a page (the extension does) would otherwise pay for embedding every sentence again even
        # when every verdict comes from the cache: embedding was most of a repeated check's time.
        self.vectors: LRUCache[np.ndarray] = LRUCache(cache_size)

    def describe(self) -> dict[str, object]:
        """Which models produced a result, for every response and /v1/health."""
        return {
            "embedder": self.embedder.name,
            "checkworthiness": self.checkworthiness.name,
            "verdict": self.verdict.name,
            "stance_model": getattr(self.verdict, "revision", None),
            "relevance_model": getattr(getattr(self.verdict, "relevance", None), "revision", None),
            "precision": getattr(self.embedder, "precision", "fp32"),
            "can_contradict": getattr(self.verdict, "can_contradict", False),
        }

    def check(
        self,
        text: str,
        check_all: bool = False,
        max_sentences: int | None = None,
        deadline: float | None = None,
        cancelled: Callable[[], bool] | None = None,
        context: str = "",
    ) -> CheckResult:
        return self.check_many(
            [text],
            check_all=check_all,
            max_sentences=max_sentences,
            deadline=deadline,
            cancelled=cancelled,
            contexts=[context],
        )[0]

    def check_many(
        self,
        texts: list[str],
        check_all: bool = False,
        max_sentences: int | None = None,
        deadline: float | None = None,
        cancelled: Callable[[], bool] | None = None,
        contexts: list[str] | None = None,
    ) -> list[CheckResult]:
        """Check several documents with one embedding pass and one verdict pass over all their claims.

        ``contexts`` (one per text, may be empty) is text that came before each one and is read only to build
        claims in context: a client that sends a long page in parts sends the page title and the end of the
        previous part, so that "It can be deadly" at the top of part two still knows what *it* is. Context is
        never checked and no offset points into it.

        Batching across documents is what lets the batch runner approach the model's throughput. ``deadline``
        (a ``time.monotonic()`` value) stops the work between stages and between chunks of claims with
        ``DeadlineExceeded``: a server must not keep two cores busy for a client that has long given up.
        ``cancelled`` (true once the client has hung up) stops it at the same points with ``Abandoned``.
        """

        def on_time() -> None:
            if cancelled is not None and cancelled():
                raise Abandoned("the client closed the connection")
            if deadline is not None and time.monotonic() > deadline:
                raise DeadlineExceeded("the check ran past its deadline")

        on_time()  # a request that waited for a slot may have been given up on meanwhile
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        per_doc = [segment(text, limit=max_sentences) for text in texts]
        timings["segment"] = _ms(t0)
        on_time()
        for segments in per_doc:
            if max_sentences is not None and len(segments) > max_sentences:
                raise TooManySentences(len(segments), max_sentences)

        # A sentence that leans on its neighbours is checked as the claim it makes in context.
        t0 = time.perf_counter()
        flat_claims = []
        for segments, context in zip(per_doc, contexts or [""] * len(per_doc)):
            before = segment(context) if context.strip() else []
            flat_claims += resolve_claims(before + segments)[len(before) :]
        timings["context"] = _ms(t0)

        # Every segment is embedded once, as the text it is checked as: the check-worthiness model reads the
        # vectors and retrieval reuses them.
        t0 = time.perf_counter()
        flat = [s for segments in per_doc for s in segments]
        checked_as = [c or s.text for s, c in zip(flat, flat_claims)]
        rules = self.checkworthiness.rules(flat, flat_claims)
        embed = [i for i, r in enumerate(rules) if check_all or r.reason not in HARD_SKIPS]
        flat_vectors = np.zeros((len(flat), DIMENSIONS), np.float32)  # rows of skipped segments are never read
        # in chunks when the request can be stopped: 2,000 sentences are seconds of embedding on two cores
        step = EMBED_CHUNK if deadline is not None or cancelled is not None else max(len(embed), 1)
        misses = []
        for i in embed:
            vector = self.vectors.get(checked_as[i])
            if vector is None:
                misses.append(i)
            else:
                flat_vectors[i] = vector
        cached, embed = len(embed) - len(misses), misses
        for start in range(0, len(embed), step):
            part = embed[start : start + step]
            flat_vectors[part] = self.embedder.encode([checked_as[i] for i in part])
            for i in part:
                self.vectors.put(checked_as[i], flat_vectors[i].copy())
            if start + step < len(embed):
                on_time()
        timings["embed"] = _ms(t0)
        timings["embed_cache_hits"] = float(cached)
        on_time()

        t0 = time.perf_counter()
        flat_worth = self.checkworthiness.assess(flat, flat_vectors, flat_claims, rules)
        if check_all:
            flat_worth = [Checkworthiness(True, w.score, "check_all", w.priority) for w in flat_worth]
        worthiness, position = [], 0
        for segments in per_doc:
            worthiness.append(flat_worth[position : position + len(segments)])
            position += len(segments)
        keep = [i for i, w in enumerate(flat_worth) if w.checkworthy]
        doc_of = [d for d, segments in enumerate(per_doc) for _ in segments]
        claims = [(doc_of[i], flat[i]) for i in keep]
        claim_texts = [checked_as[i] for i in keep]
        vectors = flat_vectors[keep]
        timings["checkworthy"] = _ms(t0)

        # Each distinct claim is decided once per request (repeats share the verdict; offsets stay per
        # sentence), and not at all when the cache already holds it for this corpus and these models.
        models = (self.retriever.store.version, self.checkworthiness.name, repr(sorted(self.describe().items())))
        decided: dict[str, Verdict] = {}
        first: dict[str, int] = {}
        for i, text in enumerate(claim_texts):
            first.setdefault(text, i)
            hit = self.cache.get((text, models))
            if hit is not None:
                decided[text] = hit
        todo = [t for t in first if t not in decided]
        timings["claims"] = float(len(claim_texts))
        timings["distinct_claims"] = float(len(first))
        timings["cache_hits"] = float(len(first) - len(todo))

        t0 = time.perf_counter()
        evidence = self.retriever.retrieve(todo, vectors[[first[t] for t in todo]]) if todo else []
        timings["retrieve"] = _ms(t0)
        on_time()

        t0 = time.perf_counter()
        stages: dict[str, float] = {"relevance": 0.0, "stance": 0.0, "combine": 0.0}
        step = DEADLINE_CHUNK if deadline is not None or cancelled is not None else max(len(todo), 1)
        for start in range(0, len(todo), step):
            chunk_stages: dict[str, float] = {}
            chunk = todo[start : start + step]
            for text, verdict in zip(
                chunk, self.verdict.decide_many(chunk, evidence[start : start + step], chunk_stages)
            ):
                decided[text] = verdict
                self.cache.put((text, models), verdict)
            for name, ms in chunk_stages.items():
                stages[name] = stages.get(name, 0.0) + ms
            on_time()
        verdicts = {(d, s.index): decided[t] for (d, s), t in zip(claims, claim_texts)}
        timings["verdict"] = _ms(t0)  # relevance + stance + combine, each also reported alone
        timings.update(stages)

        results, position = [], 0
        for d, (segments, ws) in enumerate(zip(per_doc, worthiness)):
            doc_claims = flat_claims[position : position + len(segments)]
            position += len(segments)
            sentences = [
                SentenceResult(s, w, verdicts.get((d, s.index)), c) for s, w, c in zip(segments, ws, doc_claims)
            ]
            results.append(CheckResult(sentences, timings))
        log.info("checked %d documents, %d claims %s", len(texts), len(claims), timings)
        return results

    def verify(self, items: list[tuple[str, list[str]]]) -> list[Verdict]:
        """Each claim against the evidence texts its user brought, with the same models and rules as ``check``.

        User-supplied evidence carries no GRADE assessment, so every text is ``ungraded``; retrieval is skipped
        and each text's similarity is its cosine with the claim, as the retriever would report it.
        """
        texts = [c for c, _ in items] + [e for _, evidence in items for e in evidence]
        vectors = self.embedder.encode(texts) if texts else np.zeros((0, DIMENSIONS), np.float32)
        claim_vecs, offset = vectors[: len(items)], len(items)
        evidence: list[list[Evidence]] = []
        for (_, supplied), cv in zip(items, claim_vecs):
            ev = vectors[offset : offset + len(supplied)]
            offset += len(supplied)
            evidence.append(
                [
                    Evidence(
                        f"evidence-{i + 1}",
                        text,
                        "",
                        None,
                        None,
                        None,
                        "",
                        0,
                        "user_supplied",
                        "ungraded",
                        round(float(v @ cv), 4),
                        i + 1,
                    )
                    for i, (text, v) in enumerate(zip(supplied, ev))
                ]
            )
        return self.verdict.decide_many([c for c, _ in items], evidence)


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000, 2)


def open_store(settings: Settings, progress=None) -> EvidenceStore:
    """Open the evidence database, building the default corpus first when it is missing or stale."""
    from veracity.corpus import builder

    db_path = Path(settings.corpus_db)
    if settings.default_corpus and settings.build_corpus and not builder.is_current(db_path):
        log.info("building the default corpus at %s", db_path)
        db_path.parent.mkdir(parents=True, exist_ok=True)
        embedder = load_embedder(threads=settings.threads, precision=settings.precision)
        return builder.build(db_path, embedder.encode, embedder.name, progress=progress)
    if not db_path.exists():
        raise FileNotFoundError(
            f"Evidence database {db_path} does not exist. Build it with `veracity corpus build` or create it "
            f"with `veracity corpus import FILE --db {db_path}`, or unset VERACITY_CORPUS_DB to use the bundled corpus."
        )
    return EvidenceStore(db_path)


def build_pipeline(settings: Settings) -> Pipeline:
    """Load every model once and open the store: the one way the API, CLI and batch runner get a pipeline."""
    embedder = load_embedder(threads=settings.threads, precision=settings.precision)
    store = open_store(settings)
    retriever = Retriever(store, RetrieverConfig(top_k=settings.top_k, ann_min_items=settings.ann_min_items))
    return Pipeline(
        embedder,
        retriever,
        load_verdict_maker(settings),
        load_checkworthiness(settings),
        cache_size=settings.verdict_cache_size,
    )


@contextmanager
def loading(folder: Path, what: str, setting: str) -> Iterator[None]:
    """Any failure while loading a model folder becomes one ModelFileError naming the folder and the fix."""
    try:
        yield
    except Exception as exc:  # a truncated or edited file fails in many loaders, each with its own exception
        raise ModelFileError(
            f"cannot load the {what} in {folder} ({type(exc).__name__}: {str(exc)[:200]}). Its files are damaged "
            f"or not a {what}: reinstall Veracity (pip install --force-reinstall veracity), or set "
            f"VERACITY_{setting.upper()} to a folder that holds a good copy."
        ) from exc


def load_checkworthiness(settings: Settings) -> CheckworthinessStage:
    """The verifiable model decides what is checked; the check-worthiness model only sets ``priority``."""
    from veracity.models.checkworthy import CheckworthyModel

    models: list[CheckworthyModel | None] = []
    for model_dir, role in ((settings.verifiable_model, "verifiable"), (settings.priority_model, "priority")):
        if (Path(model_dir) / "model.safetensors").exists():
            with loading(Path(model_dir), f"{role} model", f"{role}_model"):
                models.append(CheckworthyModel.load(Path(model_dir)))
        else:
            log.warning(
                "no %s model in %s: %s",
                role,
                model_dir,
                "using the rules alone" if role == "verifiable" else "no priority",
            )
            models.append(None)
    return CheckworthinessStage(*models)


def load_verdict_maker(settings: Settings) -> VerdictMaker:
    """The stance model and calibrated combiner when both ship; otherwise the similarity baseline, named as such."""
    stance_dir, combiner_dir = Path(settings.stance_model), Path(settings.verdict_model)
    if (stance_dir / "config.json").exists() and (combiner_dir / "verdict.skops").exists():
        from veracity.models.stance import StanceModel
        from veracity.models.verdict_model import VerdictModel

        relevance = None
        if (Path(settings.relevance_model) / "relevance.json").exists():
            from veracity.models.relevance import RelevanceModel

            with loading(Path(settings.relevance_model), "relevance model", "relevance_model"):
                relevance = RelevanceModel.load(settings.relevance_model)
        else:
            log.warning("no relevance model in %s: off-topic claims may be read for stance", settings.relevance_model)
        with loading(stance_dir, "stance model", "stance_model"):
            stance = StanceModel.load(stance_dir, num_threads=settings.threads, precision=settings.precision)
        with loading(combiner_dir, "verdict combiner", "verdict_model"):
            combiner = VerdictModel.load(combiner_dir)
        return StanceVerdict(stance, combiner, relevance=relevance)
    log.warning("no stance model in %s: using the similarity baseline, which cannot say 'contradicted'", stance_dir)
    return SimilarityBaseline(threshold=settings.support_threshold)
