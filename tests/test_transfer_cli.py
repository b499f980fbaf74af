"""`explore transfer`: metrics and labels written, fine-tuning recorded, one-line errors with exit
status 2, and results never overwritten without --overwrite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from explore.cli import main


def assert_one_line_error(status: int, stderr: str, *fragments: str) -> None:
    assert status == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real image sets saved as .npz files: 300 digits (8 x 8) and 100 MNIST (28 x 28)."""
    from explore.data.registry import load_images

    folder = tmp_path_factory.mktemp("sets")
    paths = {}
    for name, per_class in (("digits", 30), ("mnist_test", 10)):
        images = load_images(name).per_class(per_class, seed=0)
        paths[name] = folder / f"{name}.npz"
        np.savez(paths[name], images=images.images, labels=images.labels)
    return paths


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory, sets: dict[str, Path]) -> Path:
    """An `explore train` run folder: CC, one epoch on 100 MNIST digits."""
    run = tmp_path_factory.mktemp("run")
    args = ["train", "--method", "cc", "--dataset", str(sets["mnist_test"]), "--epochs", "1"]
    assert main([*args, "--device", "cpu", "--out", str(run), "--overwrite"]) == 0
    return run


@pytest.mark.datasets("mnist_test")
def test_transfer_writes_metrics_and_labels(sets: dict[str, Path], tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    args = ["transfer", "--target", str(sets["digits"]), "--max-clusters", "15"]
    assert main([*args, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    labels = np.load(out / "labels.npy", allow_pickle=False)
    assert labels.shape == (300,)
    k = metrics["n_clusters_inferred"]
    assert 2 <= k <= 15 and sorted(np.unique(labels)) == list(range(k))
    for key in ("acc", "nmi", "ari", "seconds", "timings", "settings"):
        assert key in metrics
    assert metrics["settings"]["extractor"] == "pixels:50"
    assert metrics["settings"]["umap"]["n_components"] == 2
    assert metrics["finetune"] is None
    assert f"inferred K={k}" in capsys.readouterr().out


@pytest.mark.datasets("mnist_test")
def test_transfer_with_a_run_backbone_and_finetuning(
    sets: dict[str, Path], run_dir: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out"
    args = [
        "transfer",
        "--source",
        str(sets["mnist_test"]),
        "--target",
        str(sets["digits"]),
        "--extractor",
        f"run:{run_dir}",
        "--resize",
        "--finetune-epochs",
        "1",
        "--umap-components",
        "0",
        "--max-clusters",
        "6",
        "--device",
        "cpu",
    ]
    assert main([*args, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["finetune"]["epochs"] == 1
    assert metrics["settings"]["umap"] is None and metrics["settings"]["run_method"] == "cc"
    assert any("8 x 8 -> 28 x 28" in note for note in metrics["adaptations"])
    assert "note: resized 8 x 8 -> 28 x 28" in capsys.readouterr().out
    assert 1 <= metrics["n_clusters_inferred"] <= 6


@pytest.mark.datasets("mnist_test")
def test_transfer_errors_are_one_line(
    sets: dict[str, Path], run_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    out = str(tmp_path / "out")
    target = ["transfer", "--target", str(sets["digits"]), "--out", out]
    cases = [
        ([*target, "--extractor", f"run:{run_dir}"], ["8 x 8", "--resize"]),
        ([*target, "--finetune-epochs", "2"], ["needs a labelled --source"]),
        ([*target, "--extractor", "resnet"], ["unknown extractor"]),
        ([*target, "--max-clusters", "0"], ["--max-clusters"]),
        ([*target, "--extractor", f"run:{tmp_path}"], ["no checkpoint.pt"]),
    ]
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    cases.append(([*target, "--extractor", "dinov2"], ["dinov2-small", "--download"]))
    for args, fragments in cases:
        capsys.readouterr()
        status = main(args)
        assert_one_line_error(status, capsys.readouterr().err, *fragments)
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.datasets("mnist_test")
def test_transfer_never_overwrites_without_the_flag(sets: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "labels.npy").write_text("precious")
    result = subprocess.run(
        [sys.executable, "-m", "explore", "transfer", "--target", str(sets["digits"])]
        + ["--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert_one_line_error(result.returncode, result.stderr, "--overwrite")
    assert (out / "labels.npy").read_text() == "precious"
