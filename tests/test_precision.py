"""bf16 arithmetic where the CPU has it: the same answers as fp32, so the speed-up costs nothing a user sees.

Run for real on both precisions (bf16 is emulated, slowly but correctly, on CPUs without native support).
"""

from __future__ import annotations

import numpy as np
import pytest

from veracity.models.embedder import Embedder
from veracity.models.precision import PRECISIONS, _cpu_flags, native_bf16, resolve
from veracity.models.stance import DEFAULT_DIR, StanceModel
from veracity.service.settings import Settings, SettingsError

PAIRS = [
    ("Opioids raise prolactin levels", "Opioid use increases serum prolactin concentrations."),
    ("Opioids lower prolactin levels", "Opioid use increases serum prolactin concentrations."),
    (
        "Kratom is approved by the FDA to treat opioid withdrawal",
        "The FDA has not approved kratom for any medical use.",
    ),
    ("The Eiffel Tower is in Paris", "Photosynthesis converts light energy into chemical energy in plants."),
]


def test_auto_picks_bf16_only_where_the_cpu_computes_it_natively():
    assert resolve("auto") == ("bf16" if native_bf16() else "fp32")
    assert resolve("fp32") == "fp32" and resolve("bf16") == "bf16"
    with pytest.raises(ValueError, match="auto, fp32, bf16"):
        resolve("fp16")


def test_native_bf16_means_the_cpu_lists_a_bf16_unit_not_just_avx512():
    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo flags on this platform; oneDNN decides")
    assert native_bf16() == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_stance_probabilities_agree_across_precisions():
    fp32 = StanceModel.load(DEFAULT_DIR, precision="fp32").predict(PAIRS)
    bf16 = StanceModel.load(DEFAULT_DIR, precision="bf16").predict(PAIRS)
    assert (fp32.argmax(axis=1) == bf16.argmax(axis=1)).all(), (fp32, bf16)
    assert np.abs(fp32 - bf16).max() < 0.05


def test_sentence_vectors_agree_across_precisions_and_stay_unit_length():
    texts = [c for c, _ in PAIRS] + [e for _, e in PAIRS]
    fp32 = Embedder(precision="fp32").encode(texts)
    bf16 = Embedder(precision="bf16").encode(texts)
    np.testing.assert_allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    assert (fp32 * bf16).sum(axis=1).min() > 0.999


def test_precision_setting_rejects_an_unknown_value_and_names_the_choices():
    assert Settings.from_env({}).precision == "auto"
    assert Settings.from_env({"VERACITY_PRECISION": "fp32"}).precision == "fp32"
    with pytest.raises(SettingsError, match="VERACITY_PRECISION.*auto, fp32, bf16"):
        Settings.from_env({"VERACITY_PRECISION": "fp16"})
    assert set(PRECISIONS) == {"auto", "fp32", "bf16"}
