"""Progress while training: bars where a person watches (a notebook, a terminal), none in logs
and pipes or when asked; the CLI's `--quiet`."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from explore.data.images import ImageSet
from explore.methods.cc import CC
from explore.training import progress


def _images() -> ImageSet:
    rng = np.random.default_rng(0)
    return ImageSet(rng.random((64, 1, 8, 8), dtype=np.float32), rng.integers(0, 2, 64))


def test_bars_are_shown_in_notebooks_and_terminals_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "in_notebook", lambda: False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert not progress.progress_wanted(None)  # a log file, a pipe, CI
    assert progress.progress_wanted(True) and not progress.progress_wanted(False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    assert progress.progress_wanted(None)  # a terminal
    assert not progress.progress_wanted(False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    assert progress.progress_wanted(None)  # a Jupyter kernel


def test_no_kernel_means_no_notebook() -> None:
    assert not progress.in_notebook()


def test_training_draws_an_epoch_bar_with_the_loss(capsys: pytest.CaptureFixture[str]) -> None:
    CC(n_clusters=2, epochs=3, batch_size=32, device="cpu", progress=True).fit(_images())
    drawn = capsys.readouterr().err
    assert "training" in drawn and "3/3" in drawn and "loss=" in drawn
    assert "epoch 3/3" in drawn  # the batch bar of the last epoch
    CC(n_clusters=2, epochs=2, batch_size=32, device="cpu", progress=False).fit(_images())
    CC(n_clusters=2, epochs=2, batch_size=32, device="cpu").fit(_images())  # stderr is no tty
    assert capsys.readouterr().err == ""


def test_cli_quiet_prints_only_the_summary(tmp_path: Path, capsys) -> None:
    from explore.cli import main

    path = tmp_path / "images.npz"
    images = _images()
    np.savez(path, images=images.images, labels=images.labels)
    options = ["--method", "cc", "--dataset", str(path), "--epochs", "2", "--device", "cpu"]
    assert main(["train", *options, "--out", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr().out
    assert "epoch 1:" in loud and "epoch 2:" in loud
    assert main(["train", *options, "--quiet", "--out", str(tmp_path / "quiet")]) == 0
    quiet = capsys.readouterr()
    assert "epoch" not in quiet.out and quiet.err == ""
    assert len(quiet.out.strip().splitlines()) == 1 and "cc on" in quiet.out
