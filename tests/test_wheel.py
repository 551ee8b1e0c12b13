"""The wheel a user installs: one import name, the models and corpus inside, writable files outside.

Built from this checkout with pip, installed into a fresh virtualenv that borrows only the third-party
dependencies of the test environment (so nothing is downloaded), then used from another directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    [path] = out.glob("veracity-*.whl")
    return path


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home / "env")], check=True)
    site = next((home / "env" / "lib").glob("python3*/site-packages"))
    # the test environment's third-party packages, as a plain path entry: its editable-install hooks are not run
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(home / "env" / "bin" / "python"),
            "install",
            "-q",
            "--no-deps",
            "--ignore-installed",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return home / "env"


def test_the_wheel_installs_one_package_with_its_models_and_corpus(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("veracity-")}
    assert tops == {"veracity"}
    for needed in (
        "veracity/models/stance/model.safetensors",
        "veracity/models/stance/tokenizer.json",
        "veracity/models/checkworthy/model.safetensors",
        "veracity/models/verdict/verdict.skops",
        "veracity/models/relevance/relevance.json",
        "veracity/corpus/data/opioids.jsonl",
        "veracity/service/static/index.html",
        "veracity/py.typed",
    ):
        assert needed in names, needed
    assert not [n for n in names if "/train_" in n or n.endswith(".db")]


def test_the_installed_package_checks_text_from_another_directory(venv, tmp_path):
    env = {**os.environ, "VERACITY_DATA_DIR": str(tmp_path / "data"), "HF_HUB_OFFLINE": "1"}
    code = (
        "import veracity; r = veracity.check('Kratom is not approved by the FDA for any medical use.'); "
        "print(veracity.__file__); print([s.verdict.label for s in r.sentences if s.verdict])"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out[0].startswith(str(venv)), out
    assert out[1] in ("['supported']", "['unsupported']", "['contradicted']")
    assert (tmp_path / "data" / "corpus.db").exists()


def test_veracity_serve_from_the_wheel_answers_a_check(venv, tmp_path, seed_text):
    from conftest import free_port

    port = free_port()
    env = {**os.environ, "VERACITY_DATA_DIR": str(tmp_path / "data"), "VERACITY_PORT": str(port), "HF_HUB_OFFLINE": "1"}
    env.pop("VERACITY_CORPUS_DB", None)
    server = subprocess.Popen(
        [str(venv / "bin" / "veracity"), "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            assert server.poll() is None, "veracity serve exited"
            try:
                if httpx.get(base + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        r = httpx.post(base + "/v1/check", json={"text": seed_text}, timeout=120)
        assert r.status_code == 200 and r.json()["summary"]["supported"] + r.json()["summary"]["unsupported"] > 0
    finally:
        server.terminate()
        server.wait(timeout=10)
