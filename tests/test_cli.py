"""The `explore` command line: outputs, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from shared_data import dataset_path

from explore.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """Run the real command in a subprocess (exit status and stderr as a user sees them)."""
    return subprocess.run(
        [sys.executable, "-m", "explore", *args], capture_output=True, text=True, timeout=300
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_datasets_lists_every_registry_name(capsys) -> None:
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("indian_pines", "salinas_a", "samson", "pavia_university", "mnist_test", "digits"):
        assert name in out
    assert "embedded" in out or "local" in out


def test_info_on_a_name_and_on_a_file(capsys) -> None:
    assert main(["info", "salinas_a"]) == 0
    assert "Lettuce" in capsys.readouterr().out
    assert main(["info", str(dataset_path("samson"))]) == 0
    out = capsys.readouterr().out
    assert "mat5" in out and "156 x 9025" in out


@pytest.mark.datasets("salinas_a")
def test_train_kmeans_writes_metrics_and_full_map(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["train", "--method", "kmeans", "--dataset", "salinas_a", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    labels = np.load(out / "labels.npy", allow_pickle=False)
    assert labels.shape == (83, 86)
    assert metrics["n_clusters"] == 6
    assert 0.6 < metrics["acc"] <= 1.0
    for key in ("nmi", "ari", "kappa", "seconds", "settings"):
        assert key in metrics


@pytest.mark.datasets("salinas_a")
def test_train_spectral_writes_metrics_and_full_map(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["train", "--method", "spectral", "--dataset", "salinas_a", "--out", str(out)]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.load(out / "labels.npy", allow_pickle=False).shape == (83, 86)
    assert metrics["method"] == "spectral" and metrics["settings"]["components"] == 10
    assert metrics["acc"] == pytest.approx(0.840, abs=0.02)
    assert main([*args[:-1], str(tmp_path / "again"), "--epochs", "3"]) == 2


@pytest.mark.datasets("salinas_a")
def test_existing_results_are_not_overwritten_without_the_flag(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("precious")
    result = run_cli("train", "--method", "kmeans", "--dataset", "salinas_a", "--out", str(out))
    assert_one_line_error(result, "--overwrite")
    assert (out / "metrics.json").read_text() == "precious"
    args = ["train", "--method", "kmeans", "--dataset", "salinas_a", "--out", str(out)]
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((out / "metrics.json").read_text())["method"] == "kmeans"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["train", "--method", "nope", "--dataset", "salinas_a"], ["invalid choice", "nope"]),
        (["train", "--method", "kmeans"], ["--dataset"]),
        (["train", "--method", "kmeans", "--dataset", "no_such_set"], ["no_such_set"]),
        pytest.param(
            ["train", "--method", "kmeans", "--dataset", "salinas_a", "--clusters", "1"],
            ["at least 2"],
            marks=pytest.mark.datasets("salinas_a"),
        ),
        (["train", "--method", "kmeans", "--dataset", "salinas_a", "--clusters", "x"], ["int"]),
        (["info", "/definitely/missing.mat"], ["missing.mat"]),
        (["frobnicate"], ["invalid choice"]),
    ],
)
def test_errors_are_one_line_with_status_2(args, fragments, tmp_path: Path) -> None:
    if args[0] == "train":
        args = [*args, "--out", str(tmp_path / "out")]
    assert_one_line_error(run_cli(*args), *fragments)


def test_corrupt_file_is_a_one_line_error(tmp_path: Path) -> None:
    broken = tmp_path / "scene.mat"
    broken.write_text("this is not a MATLAB file\n")
    assert_one_line_error(
        run_cli(
            "train", "--method", "kmeans", "--dataset", str(broken), "--out", str(tmp_path / "o")
        ),
        "scene.mat",
    )


def test_k_larger_than_the_pixels_is_refused(tmp_path: Path) -> None:
    cube = np.random.default_rng(0).normal(size=(3, 3, 4)).astype(np.float32)
    path = tmp_path / "tiny.npy"
    np.save(path, cube)
    result = run_cli(
        "train",
        "--method",
        "kmeans",
        "--dataset",
        str(path),
        "--clusters",
        "10",
        "--out",
        str(tmp_path / "o"),
    )
    assert_one_line_error(result, "9")


def test_unwritable_out_is_reported_before_work(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli(
        "train", "--method", "kmeans", "--dataset", "salinas_a", "--out", str(blocker / "sub")
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------- deep methods
@pytest.fixture(scope="module")
def small_scene_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 24 x 24 window of the real Salinas-A scene saved as an .npz (cube + labels)."""
    from explore.data.registry import load_scene

    scene = load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))
    path = tmp_path_factory.mktemp("scenes") / "window.npz"
    np.savez(path, cube=scene.cube, labels=scene.labels)
    return path


@pytest.mark.datasets("salinas_a")
def test_train_sscc_resume_and_predict(small_scene_file: Path, tmp_path: Path) -> None:
    from explore.training import RunHistory

    out = tmp_path / "sscc"
    base = ["train", "--method", "sscc", "--dataset", str(small_scene_file), "--clusters", "3"]
    assert main([*base, "--epochs", "1", "--device", "cpu", "--out", str(out)]) == 0
    for name in ("metrics.json", "labels.npy", "history.npz", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert len(RunHistory.load(out / "history.npz")) == 1

    assert main([*base, "--epochs", "2", "--device", "cpu", "--out", str(out), "--resume"]) == 0
    history = RunHistory.load(out / "history.npz")
    assert [record.epoch for record in history] == [1, 2]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == "sscc" and 0.0 <= metrics["acc"] <= 1.0

    prediction = tmp_path / "map.npy"
    args = [
        "predict",
        "--run",
        str(out),
        "--dataset",
        str(small_scene_file),
        "--out",
        str(prediction),
    ]
    assert main([*args, "--device", "cpu"]) == 0
    assert np.array_equal(np.load(prediction), np.load(out / "labels.npy"))


@pytest.mark.datasets("salinas_a")
def test_sscc_cli_errors(small_scene_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    base = ["train", "--method", "sscc", "--dataset", str(small_scene_file), "--out", str(out)]
    assert_one_line_error(run_cli(*base, "--clusters", "1"), "at least 2")
    assert_one_line_error(run_cli(*base, "--clusters", "100000"), "larger than the number")
    assert_one_line_error(run_cli(*base, "--resume"), "no checkpoint")
    assert_one_line_error(
        run_cli("train", "--method", "sscc", "--dataset", "digits", "--out", str(out)),
        "does not cluster image sets",
    )


@pytest.mark.datasets("salinas_a")
def test_predict_refuses_a_scene_with_other_bands(small_scene_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--method",
                "sscc",
                "--dataset",
                str(small_scene_file),
                "--clusters",
                "3",
                "--epochs",
                "1",
                "--device",
                "cpu",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    other = tmp_path / "other.npy"
    np.save(other, np.random.default_rng(0).normal(size=(12, 12, 100)).astype(np.float32))
    result = run_cli(
        "predict", "--run", str(out), "--dataset", str(other), "--out", str(tmp_path / "m.npy")
    )
    assert_one_line_error(result, "100 bands", "204")
    assert not (tmp_path / "m.npy").exists()
    missing = run_cli("predict", "--run", str(tmp_path), "--dataset", str(other), "--out", "x.npy")
    assert_one_line_error(missing, "checkpoint")


@pytest.mark.parametrize("method", ["cc", "sacc", "s3ocnet"])
def test_image_methods_train_on_an_image_set_from_the_cli(method: str, tmp_path: Path) -> None:
    out = tmp_path / method
    args = ["train", "--method", method, "--dataset", "digits", "--epochs", "1"]
    assert main([*args, "--device", "cpu", "--out", str(out)]) == 0
    labels = np.load(out / "labels.npy")
    assert labels.shape == (1797,)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["method"] == method and "nmi" in metrics
    prediction = tmp_path / "again.npy"
    predict = ["predict", "--run", str(out), "--dataset", "digits", "--out", str(prediction)]
    assert main([*predict, "--device", "cpu"]) == 0
    assert np.array_equal(np.load(prediction), labels)


def test_image_method_errors(tmp_path: Path) -> None:
    base = ["train", "--method", "cc", "--dataset", "digits", "--out", str(tmp_path / "o")]
    assert_one_line_error(run_cli(*base, "--clusters", "1"), "at least 2")
    assert_one_line_error(run_cli(*base, "--clusters", "5000"), "larger than the number")
    assert_one_line_error(run_cli(*base, "--smoothing", "1.0"), "--smoothing")
    assert_one_line_error(run_cli(*base, "--config", "turbo"), "invalid choice")


@pytest.mark.datasets("salinas_a")
def test_train_budget_fits_a_deep_run_and_is_refused_elsewhere(tmp_path: Path, capsys) -> None:
    out = tmp_path / "budgeted"
    options = ["--dataset", "salinas_a", "--epochs", "2", "--device", "cpu", "--quiet"]
    assert main(["train", "--method", "sscc", *options, "--budget", "3600", "--out", str(out)]) == 0
    settings = json.loads((out / "metrics.json").read_text())["settings"]
    assert settings["budget"] == {"seconds": 3600.0, "epochs": 2}
    capsys.readouterr()
    for method, budget, fragment in [
        ("kmeans", "60", "--budget applies to deep methods"),
        ("sscc", "0", "--budget must be a positive number of seconds"),
        ("sscc", "inf", "must be a finite number"),
    ]:
        try:
            code = main(["train", "--method", method, "--dataset", "salinas_a", "--budget", budget])
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code
        assert code == 2 and fragment in capsys.readouterr().err


def test_train_ends_with_a_neighbour_stage_when_asked(tmp_path: Path) -> None:
    from explore.training import RunHistory

    out = tmp_path / "run"
    args = ["train", "--method", "cc", "--dataset", "digits", "--epochs", "2", "--device", "cpu"]
    assert main([*args, "--scan-epochs", "1", "--samples-per-epoch", "512", "--out", str(out)]) == 0
    history = RunHistory.load(out / "history.npz")
    assert "consistency" not in history.records[0].losses
    assert "consistency" in history.records[1].losses
    assert json.loads((out / "metrics.json").read_text())["settings"]["scan_epochs"] == 1
    assert_one_line_error(run_cli(*args, "--scan-epochs", "-1"), "--scan-epochs")
    kmeans = ["train", "--method", "kmeans", "--dataset", "digits", "--scan-epochs", "2"]
    assert_one_line_error(run_cli(*kmeans, "--out", str(tmp_path / "k")), "deep methods")


_RUN_WITH_EXIT_HOOK = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('finalized'))\n"
    "sys.argv = ['explore', 'datasets']\n"
    "from explore.cli import run\n"
    "run()\n"
)


@pytest.mark.parametrize("launched", [False, True])
def test_the_command_skips_finalization_only_in_a_torchrun_launch(launched: bool) -> None:
    """In a process of a torchrun launch the command leaves by os._exit (after flushing), so
    torch's threads cannot hang the interpreter's finalization; elsewhere it exits normally."""
    env = {key: value for key, value in os.environ.items() if key not in ("RANK", "WORLD_SIZE")}
    if launched:
        env.update(RANK="0", WORLD_SIZE="2")
    result = subprocess.run(
        [sys.executable, "-c", _RUN_WITH_EXIT_HOOK],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "indian_pines" in result.stdout  # the command's output arrives whole
    assert ("finalized" in result.stdout) is not launched
