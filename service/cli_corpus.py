"""``veracity corpus ...``: build, import, inspect, export and audit the evidence database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

import click

from veracity.corpus import builder
from veracity.corpus.importers import CorpusImportError, read_claimreview, read_items, read_scifact_corpus
from veracity.corpus.schema import GRADES
from veracity.corpus.sources import host_of
from veracity.corpus.store import DuplicateIdError, EvidenceStore
from veracity.service.cli_common import cli_settings

DB_OPTION = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Evidence database (default: VERACITY_CORPUS_DB or corpus/corpus.db).",
)


def _db_path(db: Path | None) -> Path:
    settings = cli_settings()  # parsed even when --db is given, so a bad VERACITY_* value is reported
    return db or Path(settings.corpus_db)


def _stderr() -> TextIO:
    # click 8.5 deprecated get_text_stream and serves it from a module __getattr__ typed ``object``
    return click.get_text_stream("stderr")  # type: ignore[operator]


def _embedder():
    from veracity.models.embedder import load_embedder

    return load_embedder(threads=2)


@click.group()
def corpus() -> None:
    """Build, import, inspect and audit the evidence corpus."""


@corpus.command()
@DB_OPTION
@click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=builder.DATA_DIR
)
def build(db: Path | None, data_dir: Path) -> None:
    """Rebuild the database from the reviewable files in corpus/data/."""
    path = _db_path(db)
    files = builder.data_files(data_dir)
    total = sum(1 for f in files for line in f.open(encoding="utf-8") if line.strip())
    embedder = _embedder()
    with click.progressbar(length=total, label="Embedding evidence", file=_stderr()) as bar:
        try:
            store = builder.build(path, embedder.encode, embedder.name, data_dir=data_dir, progress=bar.update)
        except (CorpusImportError, ValueError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Built {path}: {store.count()} items, version {store.version}", err=True)


@corpus.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@DB_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "items", "scifact", "claimreview"]),
    default="auto",
    help="items: Veracity JSONL/CSV; scifact: SciFact corpus.jsonl; claimreview: ClaimReview JSON-LD.",
)
@click.option("--replace", is_flag=True, help="Overwrite items whose id already exists.")
def import_(file: Path, db: Path | None, fmt: str, replace: bool) -> None:
    """Validate FILE and add all of its items in one transaction (all or nothing)."""
    if fmt == "auto":
        name = file.name.lower()
        fmt = (
            "scifact"
            if "corpus" in name and "scifact" in str(file).lower()
            else "claimreview"
            if name.endswith(".json")
            else "items"
        )
    try:
        items = {"items": read_items, "scifact": read_scifact_corpus, "claimreview": read_claimreview}[fmt](file)
    except CorpusImportError as exc:
        raise click.ClickException(str(exc)) from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{file} is not UTF-8 text; re-encode it as UTF-8") from None
    path = _db_path(db)
    store = EvidenceStore(path)
    embedder = _embedder()
    with click.progressbar(length=len(items), label="Embedding", file=_stderr()) as bar:
        try:
            added = store.add(items, embedder.encode, embedder.name, replace=replace, progress=bar.update)
        except DuplicateIdError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Imported {added} items into {path} (now {store.count()} items, version {store.version})", err=True)
    _build_ann_index(store)


def _build_ann_index(store: EvidenceStore) -> None:
    """Rebuild a large corpus's nearest-neighbour indexes now, beside the database, so that the server's next start
    loads them instead of building them (minutes at a million vectors)."""
    min_items = cli_settings().ann_min_items
    if not min_items or max(store.count(), store.passage_count()) < min_items:
        return
    from veracity.service.retrieve import Retriever, RetrieverConfig

    click.echo(f"Building the nearest-neighbour index (VERACITY_ANN_MIN_ITEMS={min_items})", err=True)
    Retriever(store, RetrieverConfig(ann_min_items=min_items))


@corpus.command()
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.option("--markdown", is_flag=True, help="Print the README's markdown tables, computed from corpus/data.")
def stats(db: Path | None, as_json: bool, markdown: bool) -> None:
    """Items per topic, grade, study type and source host."""
    if markdown:
        click.echo(stats_markdown(), nl=False)
        return
    store = _open(db)
    data = store.stats()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['items']} items, version {data['version']}")
    for title, key in (
        ("grade", "by_grade"),
        ("study type", "by_study_type"),
        ("topic", "by_topic"),
        ("host", "by_host"),
    ):
        click.echo(f"\nby {title}:")
        for name, count in data[key].items():
            click.echo(f"  {name:<24} {count:>6}")


@corpus.command()
@DB_OPTION
def export(db: Path | None) -> None:
    """Write every item as JSONL to stdout (without embeddings)."""
    for item in _open(db).iter_items():
        click.echo(json.dumps(item, ensure_ascii=False))


@corpus.command()
@DB_OPTION
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Audit the source files in this folder (e.g. corpus/data) instead of a database.",
)
@click.option("--threshold", type=float, default=None, help="Cosine similarity that counts as a near-duplicate.")
def audit(db: Path | None, data_dir: Path | None, threshold: float | None) -> None:
    """Check sources, grades, identifiers and near-duplicates; exit 1 on any failure."""
    from veracity.corpus.audit import NEAR_DUPLICATE_COSINE, audit_items

    if data_dir is not None:
        try:
            items = [item for path in builder.data_files(data_dir) for item in read_items(path)]
        except CorpusImportError as exc:
            raise click.ClickException(str(exc)) from None
        vectors = _embedder().encode([i["statement"] for i in items])
    else:
        store = _open(db)
        matrix = store.matrix()
        rows = store.get_many(matrix.ids)
        items = [rows[i] for i in matrix.ids]
        for item in items:
            item.pop("added", None), item.pop("embedding_model", None)
        vectors = matrix.vectors
    report = audit_items(items, vectors, threshold or NEAR_DUPLICATE_COSINE)
    for failure in report.failures:
        click.echo(f"FAIL {failure}")
    for a, b, sim in report.near_duplicates:
        click.echo(f"FAIL near-duplicate from one source: {a} ~ {b} (cosine {sim})")
    for a, b, sim in report.corroborating:
        click.echo(f"NOTE same finding from two sources: {a} ~ {b} (cosine {sim})")
    click.echo(
        f"{report.items} items: {len(report.failures)} failures, {len(report.near_duplicates)} near-duplicates, "
        f"{len(report.warnings)} warnings",
        err=True,
    )
    if not report.ok:
        raise SystemExit(1)


def stats_markdown(data_dir: Path = builder.DATA_DIR) -> str:
    """Corpus statistics as markdown, from the source files (so the README can be checked against them)."""
    from collections import Counter

    items = [item for path in builder.data_files(data_dir) for item in read_items(path)]
    lines = [
        f"{len(items)} evidence items from {len({i['source_url'] or i['doi'] for i in items})} distinct sources.",
        "",
    ]
    grades = Counter(i["grade"] for i in items)
    lines += ["| grade | items |", "|---|---:|"]
    lines += [f"| {g} | {grades[g]} |" for g in GRADES if grades[g]]
    lines += ["", "| study type | items |", "|---|---:|"]
    lines += [f"| {t} | {n} |" for t, n in Counter(i["study_type"] for i in items).most_common()]
    topics = Counter(i["topic"] for i in items)
    top = topics.most_common(15)
    rest = sum(topics.values()) - sum(n for _, n in top)
    lines += ["", "| topic | items |", "|---|---:|"]
    lines += [f"| {t} | {n} |" for t, n in top]
    lines += [f"| {len(topics) - len(top)} other topics | {rest} |", ""]
    hosts = Counter(host_of(i.get("source_url") or "") or "(no URL)" for i in items)
    top_hosts = hosts.most_common(12)
    lines += ["| host | items |", "|---|---:|"]
    lines += [f"| {h} | {n} |" for h, n in top_hosts]
    lines += [
        f"| {len(hosts) - len(top_hosts)} other hosts | {sum(hosts.values()) - sum(n for _, n in top_hosts)} |",
        "",
    ]
    return "\n".join(lines)


def _open(db: Path | None) -> EvidenceStore:
    path = _db_path(db)
    if not path.exists():
        raise click.ClickException(f"{path} does not exist; run `veracity corpus build` first")
    return EvidenceStore(path)
