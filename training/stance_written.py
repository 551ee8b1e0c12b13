"""Stance pairs written here (annotations/stance): the records, their checks, and the join with their evidence.

The claims were written by the team from real evidence texts, following ``annotations/stance/ANNOTATION.md``.
The evidence texts of the public datasets stay in ``../shared/datasets`` and are joined at training time through
``evidence_ref``; only the bundled corpus's statements (which the project owns) resolve without it. A record is:

    {"id": "w3-000123", "claim": "...", "label": "supports", "evidence_ref": "evidence_inference:v2:2314",
     "kind": "paraphrase", "pass": "writer-3"}

Challenge records add ``pair_id`` and ``phenomenon`` and are never trained on.

Splits follow the evidence, never the pair: every claim written about one evidence *source* (a SciFact abstract's
group in ``splits.json``, an Evidence Inference article, a PubMedQA abstract, a CORD-19 abstract, a corpus item's
source URL) lands in the same split, so the validation figures measure claims about evidence the model never saw.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from training.stance_data import LABELS, Split, StancePair, load_scifact, scifact_groups

ANNOTATIONS_DIR = Path(__file__).resolve().parent.parent / "annotations" / "stance"
CORPUS_DATA_DIR = Path(__file__).resolve().parent.parent / "corpus" / "data"
# The corpus items as they were when the claims about them were written (2026-12-03, before the corpus was
# re-sourced): a claim's label holds for the statement its writer read, so ``corpus:ID`` resolves here, not to
# today's corpus, where an item may since have been corrected or dropped.
WRITTEN_AGAINST = ANNOTATIONS_DIR / "corpus_items.jsonl"

# A claim written about one source, paired with an item the retriever found for it (ANNOTATION.md, "Retrieved
# pairs"): the pairs the service reads, labelled by hand, so the kind goes with any label.
RETRIEVED = "retrieved_related"
KINDS: dict[str, frozenset[str]] = {
    "supports": frozenset(
        {RETRIEVED, "paraphrase", "generalisation", "consequence", "hedged", "understatement", "negated_match"}
    ),
    "contradicts": frozenset(
        {
            RETRIEVED,
            "direction_flip",
            "negated_claim",
            "claim_vs_negated_evidence",
            "null_vs_effect",
            "number_change",
            "date_change",
            "entity_swap",
            "approval_status",
            "antonym",
        }
    ),
    "neutral": frozenset({RETRIEVED, "overstatement", "on_topic_neutral", "different_outcome", "partial_match"}),
}

PHENOMENA: tuple[str, ...] = (
    "negation_in_claim",
    "negation_in_evidence",
    "antonym",
    "direction",
    "number",
    "approval_status",
    "hedging",
    "scope",
    "entity_swap",
)
REF_SOURCES: tuple[str, ...] = ("corpus", "scifact", "evidence_inference", "pubmedqa", "check_covid")
_REF = re.compile(
    r"^(corpus:[A-Za-z0-9_.-]+|scifact:\d+:\d+|evidence_inference:v2:\d+|pubmedqa:\d+:long_answer"
    r"|check_covid:[A-Za-z0-9]+:\d+)$"
)
VALIDATION_FRACTION, DEV_FRACTION = 0.15, 0.08


class RecordError(ValueError):
    """A written record that breaks the schema; the message names the file, line and field."""


def check_record(r: Any, challenge: bool = False) -> list[str]:
    """What is wrong with one record (empty when it is valid)."""
    if not isinstance(r, dict):
        return ["not a JSON object"]
    problems = []
    for key in ("id", "claim", "label", "evidence_ref", "pass") + (
        ("pair_id", "phenomenon") if challenge else ("kind",)
    ):
        if not isinstance(r.get(key), str) or not r[key].strip():
            problems.append(f"{key!r} must be a non-empty string")
    if problems:
        return problems
    if r["label"] not in LABELS:
        problems.append(f"label {r['label']!r} is not one of {', '.join(LABELS)}")
    elif not challenge and r["kind"] not in KINDS[r["label"]]:
        problems.append(f"kind {r['kind']!r} is not a {r['label']} kind ({', '.join(sorted(KINDS[r['label']]))})")
    if challenge and r["phenomenon"] not in PHENOMENA:
        problems.append(f"phenomenon {r['phenomenon']!r} is not one of {', '.join(PHENOMENA)}")
    if not _REF.match(r["evidence_ref"]):
        problems.append(f"evidence_ref {r['evidence_ref']!r} is not a known reference form (ANNOTATION.md)")
    if "evidence" in r and not isinstance(r["evidence"], str):
        problems.append("'evidence' must be a string when present")
    if len(r["claim"]) > 400:
        problems.append("claim longer than 400 characters")
    return problems


def read_records(path: Path, challenge: bool = False) -> list[dict[str, Any]]:
    """Records of one JSONL file, checked; raises RecordError naming the first bad line."""
    out = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"{path}:{n}: not JSON ({e.msg})") from None
            problems = check_record(r, challenge)
            if problems:
                raise RecordError(f"{path}:{n}: " + "; ".join(problems))
            out.append(r)
    return out


def written_files(root: Path = ANNOTATIONS_DIR) -> list[Path]:
    return sorted((root / "written").glob("*.jsonl"))


def read_written(root: Path = ANNOTATIONS_DIR) -> list[dict[str, Any]]:
    """Every training record under ``written/``, ids unique across files."""
    records = [r for p in written_files(root) for r in read_records(p)]
    seen: set[str] = set()
    for r in records:
        if r["id"] in seen:
            raise RecordError(f"duplicate id {r['id']!r} under {root / 'written'}")
        seen.add(r["id"])
    return records


def read_challenge(root: Path = ANNOTATIONS_DIR) -> list[dict[str, Any]]:
    return read_records(root / "challenge.jsonl", challenge=True)


def corpus_statements(data_dir: Path = CORPUS_DATA_DIR) -> dict[str, dict[str, Any]]:
    """The bundled corpus items by id (the project's own text, so these refs resolve without ../shared);
    ``data_dir`` is a folder of corpus files or one JSONL file."""
    items = {}
    data_dir = Path(data_dir)
    for path in [data_dir] if data_dir.is_file() else sorted(data_dir.glob("*.jsonl")):
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    it = json.loads(line)
                    items[it["id"]] = it
    return items


def _fraction(key: str) -> float:
    return int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 2**32


def split_of_group(group: str, split: Split) -> str:
    """SciFact groups keep the committed splits.json; other sources are split by a hash of their source."""
    if group.startswith("scifact:"):
        return split.of(group)
    x = _fraction(group)
    return "validation" if x < VALIDATION_FRACTION else "dev" if x < VALIDATION_FRACTION + DEV_FRACTION else "train"


@dataclass
class EvidenceResolver:
    """Turns an ``evidence_ref`` into the evidence text and the group (source) that splits never cut."""

    datasets_dir: Path
    corpus_dir: Path = WRITTEN_AGAINST

    @cached_property
    def _corpus(self) -> dict[str, dict[str, Any]]:
        return corpus_statements(self.corpus_dir)

    @cached_property
    def _corpus_today(self) -> dict[str, dict[str, Any]]:
        """Items added after the first claims were written; records about them carry the text they were labelled
        against in ``evidence``, so only the group (the source) comes from here."""
        return corpus_statements(CORPUS_DATA_DIR)

    @cached_property
    def _scifact(self) -> tuple[dict[int, tuple[str, ...]], dict[int, str]]:
        claims, docs = load_scifact(self.datasets_dir)
        groups = scifact_groups(claims)
        doc_group = {d: groups[c.id] for c in claims for d in c.cited_doc_ids}
        return {d: doc.sentences for d, doc in docs.items()}, doc_group

    @cached_property
    def _evidence_inference(self) -> list[tuple[str, str]]:
        path = self.datasets_dir / "evidence_inference" / "v2_annotations.csv"
        with open(path, encoding="utf-8", newline="") as fh:
            return [(r["Annotations"].strip(), r["PMCID"]) for r in csv.DictReader(fh)]

    @cached_property
    def _pubmedqa(self) -> dict[str, Any]:
        with gzip.open(self.datasets_dir / "pubmedqa_pqal" / "pqal_train_dev.json.gz", "rt", encoding="utf-8") as fh:
            data: dict[str, Any] = json.load(fh)
        return data

    @cached_property
    def _check_covid(self) -> dict[str, list[str]]:
        out = {}
        with open(self.datasets_dir / "check_covid" / "corpus.json", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    d = json.loads(line)
                    out[d["cord_id"]] = d["abstract"]
        return out

    def resolve(self, ref: str) -> tuple[str, str]:
        """(evidence text, group); KeyError with the ref when it names nothing."""
        source, _, rest = ref.partition(":")
        try:
            if source == "corpus":
                it = self._corpus[rest] if rest in self._corpus else self._corpus_today[rest]
                return it["statement"], "corpus:" + (it.get("source_url") or it["id"])
            if source == "scifact":
                doc, sent = (int(x) for x in rest.split(":"))
                sentences, doc_group = self._scifact
                return sentences[doc][sent], doc_group.get(doc, f"scifact-doc:{doc}")
            if source == "evidence_inference":
                text, pmcid = self._evidence_inference[int(rest.split(":")[1])]
                return text, f"ei:PMC{pmcid}"
            if source == "pubmedqa":
                pmid = rest.split(":")[0]
                return self._pubmedqa[pmid]["LONG_ANSWER"], f"pubmedqa:{pmid}"
            if source == "check_covid":
                cord, sent = rest.split(":")
                return self._check_covid[cord][int(sent)], f"check_covid:{cord}"
        except (KeyError, IndexError, ValueError):
            pass
        raise KeyError(f"evidence_ref {ref!r} names no evidence text in {self.datasets_dir} or the corpus")


def to_pairs(
    records: Sequence[dict[str, Any]], resolver: EvidenceResolver, split: Split, source: str = "written"
) -> Iterator[tuple[StancePair, str]]:
    """Records joined with their evidence, as (pair, split). Challenge records keep their phenomenon as kind."""
    for r in records:
        text, group = resolver.resolve(r["evidence_ref"])
        evidence = r.get("evidence") or text
        kind = r.get("phenomenon") or r["kind"]
        origin = f"{source}_{r['evidence_ref'].split(':')[0]}"  # e.g. written_scifact: per-source tables
        pair = StancePair(r["claim"].strip(), evidence, LABELS.index(r["label"]), origin, group, kind, r["id"])
        yield pair, split_of_group(group, split)


def describe_records(
    records: Sequence[dict[str, Any]], resolver: EvidenceResolver | None = None, split: Split | None = None
) -> dict[str, Any]:
    """Counts for the data card: by label, kind, evidence source, pass and (given the datasets) split."""
    from collections import Counter

    out: dict[str, Any] = {
        "records": len(records),
        "distinct_evidence": len({r["evidence_ref"] for r in records}),
        "by_label": dict(Counter(r["label"] for r in records)),
        "by_kind": dict(Counter(f"{r['label']}/{r.get('kind') or r.get('phenomenon')}" for r in records)),
        "by_source": {
            src: dict(Counter(r["label"] for r in records if r["evidence_ref"].split(":")[0] == src))
            for src in REF_SOURCES
        },
        "evidence_by_source": dict(Counter(ref.split(":")[0] for ref in {r["evidence_ref"] for r in records})),
        "by_pass": dict(Counter(r["pass"] for r in records)),
    }
    if resolver is not None and split is not None:
        out["by_split"] = dict(Counter(s for _, s in to_pairs(records, resolver, split)))
    return out


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Agreement beyond chance between two label sequences of equal length."""
    from collections import Counter

    n = len(a)
    if n == 0 or n != len(b):
        raise ValueError("kappa needs two non-empty label lists of equal length")
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return 1.0 if expected == 1 else (observed - expected) / (1 - expected)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    from training.stance_data import load_split, read_splits, write_pairs

    ap = argparse.ArgumentParser(prog="python -m training.stance_written", description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--splits", type=Path, default=Path("models/stance/splits.json"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("describe", help="check every record and print the counts (JSON)")
    add = sub.add_parser("add", help="append the written pairs, joined with their evidence, to a pairs file")
    add.add_argument("--pairs", type=Path, required=True, help="pairs file from `train_stance prepare`")
    add.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    split = load_split(args.splits)
    resolver = EvidenceResolver(args.datasets)
    records = read_written()
    if args.cmd == "describe":
        report = {"written": describe_records(records, resolver, split)}
        if (ANNOTATIONS_DIR / "challenge.jsonl").exists():
            report["challenge"] = describe_records(read_challenge(), resolver, split)
        print(json.dumps(report, indent=1))
        return
    base = read_splits(args.pairs)
    tagged = [(p, s) for s, ps in base.items() for p in ps] + list(to_pairs(records, resolver, split))
    write_pairs(args.out, tagged)
    print(json.dumps(describe_records(records, resolver, split)["by_split"]))


if __name__ == "__main__":
    main()
