"""Distilling the stance model: ensemble targets, the mixed loss and a shallower student, run for real on CPU.

The shipped model's folder stands in for the base weights (the base package's copy is built by ``prepare``,
which needs ../shared); training runs a couple of steps on a handful of pairs, so these check the plumbing,
not the quality (that is `python -m bench.stance`).
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from training.stance_data import StancePair, read_splits
from training.train_stance import (
    TrainConfig,
    batch_loss,
    collate,
    encode_pairs,
    fingerprint,
    member_probs,
    negation_weights,
    soft_targets,
    train,
)
from veracity.models.stance import DEFAULT_DIR, StanceModel

EVIDENCE = "Opioid use increases serum prolactin concentrations."
PAIRS = {
    "train": [
        ("Opioids raise prolactin levels.", EVIDENCE, 0),
        ("Opioids lower prolactin levels.", EVIDENCE, 1),
        ("Opioids raise prolactin levels.", "The Great Barrier Reef is off the coast of Queensland.", 2),
        ("Vitamin C prevents the common cold.", "Regular vitamin C did not reduce how often colds occurred.", 1),
        ("Smoking causes lung cancer.", "Smoking is the leading cause of lung cancer.", 0),
        ("Smoking causes lung cancer.", "Paris is the capital of France.", 2),
    ],
    "dev": [
        ("Opioid use increases prolactin.", EVIDENCE, 0),
        ("Opioid use decreases prolactin.", EVIDENCE, 1),
        ("Aspirin thins the blood.", "The Nile flows north.", 2),
    ],
    "validation": [
        ("Opioids elevate prolactin.", EVIDENCE, 0),
        ("Opioids reduce prolactin.", EVIDENCE, 1),
        ("Coffee contains caffeine.", "Mount Everest is in the Himalayas.", 2),
    ],
}


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stance") / "pairs.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for split, rows in PAIRS.items():
            for i, (claim, evidence, label) in enumerate(rows):
                pair = StancePair(claim, evidence, label, "test", f"{split}-{i}")
                fh.write(json.dumps({**asdict(pair), "split": split}) + "\n")
    return path


@pytest.fixture(scope="module")
def shipped_member(pairs_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("members") / "shipped.npz"
    np.savez_compressed(path, **member_probs(DEFAULT_DIR, read_splits(pairs_file), "cpu"))
    return path


def test_soft_targets_average_the_members_per_pair(pairs_file: Path, shipped_member: Path, tmp_path: Path):
    twin = tmp_path / "twin.npz"
    data = dict(np.load(shipped_member))
    data["train"] = np.tile(np.array([[0.2, 0.3, 0.5]], dtype=np.float32), (len(PAIRS["train"]), 1))
    np.savez_compressed(twin, **data)

    report = soft_targets([shipped_member, twin], pairs_file, tmp_path / "soft.npz", "cpu")

    soft = np.load(tmp_path / "soft.npz")
    assert report["members"] == ["shipped", "twin"]
    np.testing.assert_allclose(soft["train"], (np.load(shipped_member)["train"] + data["train"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(soft["train"].sum(axis=1), 1.0, rtol=1e-5)
    assert set(report["validation"]) == {"shipped", "twin", "ensemble"}


def test_a_member_scored_on_other_pairs_is_refused(pairs_file: Path, shipped_member: Path, tmp_path: Path):
    stale = tmp_path / "stale.npz"
    data = dict(np.load(shipped_member))
    data["train_fingerprint"] = np.array(fingerprint([StancePair("other", "pairs", 0, "test", "g")]))
    np.savez_compressed(stale, **data)

    with pytest.raises(SystemExit, match="rescore it"):
        soft_targets([shipped_member, stale], pairs_file, tmp_path / "soft.npz", "cpu")


def test_the_distillation_loss_mixes_soft_and_gold_cross_entropy():
    model = StanceModel.load(DEFAULT_DIR, precision="fp32")
    pairs = [StancePair(c, e, lab, "test", "g") for c, e, lab in PAIRS["train"]]
    soft = np.full((len(pairs), 3), 1 / 3, dtype=np.float32)
    batch = collate(
        encode_pairs(model.tokenizer, pairs, 128, soft), np.arange(len(pairs)), model.tokenizer.pad_token_id
    )
    plain = {k: v for k, v in batch.items() if k != "soft"}

    with torch.no_grad():
        gold = float(batch_loss(model.model, plain, alpha=0.7))  # no targets: the model's own cross-entropy
        only_gold = float(batch_loss(model.model, batch, alpha=0.0))
        only_soft = float(batch_loss(model.model, batch, alpha=1.0))
        mixed = float(batch_loss(model.model, batch, alpha=0.7))

    assert only_gold == pytest.approx(gold, rel=1e-5)
    assert only_soft != pytest.approx(gold, rel=1e-3)
    assert mixed == pytest.approx(0.7 * only_soft + 0.3 * only_gold, rel=1e-5)


def test_pairs_without_a_teacher_score_are_trained_on_their_gold_label_alone():
    model = StanceModel.load(DEFAULT_DIR, precision="fp32")
    pairs = [StancePair(c, e, lab, "test", "g") for c, e, lab in PAIRS["train"]]
    soft = np.full((len(pairs), 3), np.nan, dtype=np.float32)
    batch = collate(
        encode_pairs(model.tokenizer, pairs, 128, soft), np.arange(len(pairs)), model.tokenizer.pad_token_id
    )
    plain = {k: v for k, v in batch.items() if k != "soft"}
    with torch.no_grad():
        unscored = float(batch_loss(model.model, batch, alpha=0.7))
        gold = float(batch_loss(model.model, plain, alpha=0.7))
    assert np.isfinite(unscored)
    assert unscored == pytest.approx(gold, rel=1e-5)


def test_the_teacher_scores_only_the_training_sources_it_is_asked_for(pairs_file: Path):
    by_split = read_splits(pairs_file)
    by_split["train"] = [*by_split["train"], StancePair("A quote.", "A quote.", 0, "other", "q", "self_quote")]
    probs = member_probs(DEFAULT_DIR, by_split, "cpu", train_sources=("te*",), quantize=True)
    scored = np.isfinite(probs["train"]).all(axis=1)
    assert scored.tolist() == [True] * len(PAIRS["train"]) + [False]  # other source, and a quotation
    assert np.isfinite(probs["validation"]).all()
    np.testing.assert_allclose(probs["train"][scored].sum(axis=1), 1.0, rtol=1e-5)


def test_negation_weights_leave_no_label_shortcut_in_negation_words():
    # As in the training mix: evidence with "no"/"not" mostly contradicts, evidence without mostly supports.
    rows = [("Drug A lowers blood pressure.", "Drug A did not lower blood pressure.", 1)] * 6
    rows += [("Drug A lowers blood pressure.", "Drug A showed no effect on weight but lowered pressure.", 0)] * 2
    rows += [("Drug A lowers blood pressure.", "Drug A lowered blood pressure.", 0)] * 6
    rows += [("Drug A lowers blood pressure.", "Drug A raised blood pressure.", 1)] * 2
    pairs = [StancePair(c, e, lab, "test", "g") for c, e, lab in rows]

    weights = negation_weights(pairs)

    labels = np.array([p.label for p in pairs])
    negated = np.array(["no" in p.evidence.split() or "not" in p.evidence.split() for p in pairs])
    for cell in (negated, ~negated):
        supports_share = weights[cell & (labels == 0)].sum() / weights[cell].sum()
        assert supports_share == pytest.approx(0.5)  # the overall share, in either cell
    assert weights.mean() == pytest.approx(1.0)
    assert weights[labels == 0][0] > weights[labels == 1][0]  # the rare "negated but supports" pairs weigh more


def test_pair_weights_scale_each_pairs_share_of_the_loss():
    model = StanceModel.load(DEFAULT_DIR, precision="fp32")
    pairs = [StancePair(c, e, lab, "test", "g") for c, e, lab in PAIRS["train"]]
    uniform = collate(encode_pairs(model.tokenizer, pairs, 128, weights=np.ones(len(pairs))), np.arange(len(pairs)), 0)
    plain = {k: v for k, v in uniform.items() if k != "weight"}
    first_only = dict(uniform, weight=torch.tensor([1.0] + [0.0] * (len(pairs) - 1)))
    alone = collate(encode_pairs(model.tokenizer, pairs[:1], 128), np.arange(1), 0)

    with torch.no_grad():
        assert float(batch_loss(model.model, uniform, alpha=0.7)) == pytest.approx(
            float(batch_loss(model.model, plain, 0.7)), rel=1e-5
        )
        assert float(batch_loss(model.model, first_only, alpha=0.7)) == pytest.approx(
            float(batch_loss(model.model, alone, 0.7)), rel=1e-4
        )


def test_a_distilled_student_keeps_the_first_layers_and_the_frozen_word_embeddings(
    pairs_file: Path, shipped_member: Path, tmp_path: Path
):
    soft_targets([shipped_member], pairs_file, tmp_path / "soft.npz", "cpu")
    cfg = TrainConfig(
        pairs=str(pairs_file),
        base=str(DEFAULT_DIR),
        out=str(tmp_path / "student"),
        epochs=1,
        batch_size=4,
        max_steps=2,
        soft_targets=str(tmp_path / "soft.npz"),
        layers=2,
        freeze_word_embeddings=True,
    )

    report = train(cfg)

    student = StanceModel.load(tmp_path / "student" / "model")
    assert student.model.config.num_hidden_layers == 2
    assert report["config"]["soft_targets"].endswith("soft.npz")
    word = "bert.embeddings.word_embeddings.weight"
    before = load_file(str(DEFAULT_DIR / "model.safetensors"))[word]
    after = load_file(str(tmp_path / "student" / "model" / "model.safetensors"))[word]
    assert torch.equal(before, after)
    probs = student.predict([(c, e) for c, e, _ in PAIRS["validation"]])
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_training_refuses_targets_made_from_other_pairs(pairs_file: Path, shipped_member: Path, tmp_path: Path):
    soft_targets([shipped_member], pairs_file, tmp_path / "soft.npz", "cpu")
    data = dict(np.load(tmp_path / "soft.npz"))
    data["train_fingerprint"] = np.array("0000000000000000")
    np.savez_compressed(tmp_path / "stale.npz", **data)
    cfg = TrainConfig(
        pairs=str(pairs_file),
        base=str(DEFAULT_DIR),
        out=str(tmp_path / "student"),
        max_steps=1,
        soft_targets=str(tmp_path / "stale.npz"),
    )

    with pytest.raises(SystemExit, match="other training pairs"):
        train(cfg)
