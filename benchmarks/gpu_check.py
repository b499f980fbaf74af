"""The one-command GPU check (docs/gpu.md): the `gpu` tests, SSCC / SACC epochs, torchrun with
NCCL and `explore predict` throughput, each a subprocess with its own timeout, then one markdown
table printed and written to a file.

    python benchmarks/gpu_check.py [--out gpu_check.md] [--budget 450]
    python benchmarks/gpu_check.py --step sscc --dataset salinas_a --config paper --epochs 3

Without CUDA it says so in one line and exits 2. `benchmarks/gpu_check.sh BUNDLE` installs the
bundle's wheels and sets EXPLORE_DATA_DIR first. A failing or timed-out step is a FAILED row;
steps that would start past the overall budget are SKIPPED rows.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULT_PREFIX = "GPU_CHECK_RESULT "
PREDICT_SIDE = 2048
PREDICT_BANDS = 100
DEVICE = "cuda"
"""Device of the inner steps (`--device cpu` tries them on a CPU)."""

TARGETS = {
    "sscc_paper_salinas_a": 5.0,  # seconds per epoch, at most
    "sacc_mnist_test": 10.0,  # seconds per epoch, at most
    "predict": 5e6,  # pixels per second, at least
}


@dataclass
class Row:
    """One line of the table."""

    step: str
    result: str
    target: str
    verdict: str
    seconds: float


# ---------------------------------------------------------------------------- inner steps
def _emit(result: dict) -> None:
    print(RESULT_PREFIX + json.dumps(result), flush=True)


def _epoch_summary(history: list) -> dict:
    """Seconds per epoch (mean of epochs after the first, which pays for warm-up and cuDNN's
    autotuning; the only epoch when there is one) and the last epoch's ACC."""
    seconds = [record.seconds for record in history]
    steady = seconds[1:] or seconds
    return {
        "epochs": len(seconds),
        "seconds_per_epoch": sum(steady) / len(steady),
        "first_epoch_seconds": seconds[0],
        "acc": history[-1].metrics.get("acc"),
    }


def step_sscc(dataset: str, config: str, epochs: int) -> dict:
    """SSCC on a registered scene on CUDA for `epochs` epochs."""
    from explore.data.registry import load_scene
    from explore.methods.sscc import SSCC

    scene = load_scene(dataset, download=False)
    model = SSCC(n_clusters=scene.n_classes, config=config, epochs=epochs, device=DEVICE, seed=0)
    model.fit(scene)
    return _epoch_summary(list(model.history_))


def step_sacc(epochs: int) -> dict:
    """SACC on mnist_test (10,000 digits) on CUDA for `epochs` epochs."""
    from explore.data.loading import load_dataset
    from explore.methods.sacc import SACC

    images = load_dataset("mnist_test", download=False)
    model = SACC(n_clusters=10, epochs=epochs, device=DEVICE, seed=0)
    model.fit(images)
    return _epoch_summary(list(model.history_))


def step_predict(work: str, side: int = PREDICT_SIDE) -> dict:
    """Train SSCC (fast config, one sampled epoch) on a synthetic memory-mapped 2048 x 2048 x
    100 scene, then time `explore predict --device cuda` on it (in this process, after the
    imports: checkpoint, scene, dense prediction, map written)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import scaling

    scene = str(Path(work) / "scene.npy")
    scaling.make_scene(scene, side, PREDICT_BANDS, "float32")
    from explore.cli import main
    from explore.data.readers import read_scene
    from explore.methods.sscc import SSCC

    run = Path(work) / "run"
    run.mkdir()
    model = SSCC(n_clusters=scaling.N_CLASSES, epochs=1, samples_per_epoch=4096, device=DEVICE)
    model.fit(read_scene(scene, lazy=True), checkpoint_path=run / "checkpoint.pt")
    started = time.perf_counter()
    args = ["predict", "--run", str(run), "--dataset", scene, "--out", f"{work}/map.npy"]
    status = main([*args, "--device", DEVICE])
    seconds = time.perf_counter() - started
    if status:
        raise RuntimeError(f"explore predict exited {status}")
    return {"side": side, "seconds": seconds, "pixels_per_second": side**2 / seconds}


def run_step(args: argparse.Namespace) -> int:
    """One inner step in this process; its result is one RESULT_PREFIX line of JSON."""
    global DEVICE
    DEVICE = args.device
    if args.step == "sscc":
        _emit(step_sscc(args.dataset, args.config, args.epochs))
    elif args.step == "sacc":
        _emit(step_sacc(args.epochs))
    elif args.step == "predict":
        with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
            _emit(step_predict(work, args.side))
    return 0


# ---------------------------------------------------------------------------- the driver
def _run(command: list[str], timeout: float, env: dict | None = None) -> tuple[int, str, float]:
    """(exit status, last 4,000 characters of the output, seconds); 124 on timeout."""
    started = time.perf_counter()
    env = dict(os.environ if env is None else env)
    # this checkout's explore, whatever else the interpreter has installed
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    try:
        done = subprocess.run(
            command,
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        status, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as error:
        status = 124
        output = f"timed out after {timeout:.0f} s\n" + str(error.stdout or "")[-2000:]
    return status, output[-4000:], time.perf_counter() - started


def _result(output: str) -> dict | None:
    lines = [line for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
    return json.loads(lines[-1][len(RESULT_PREFIX) :]) if lines else None


def _failed(step: str, target: str, status: int, output: str, seconds: float) -> Row:
    reason = "timeout" if status == 124 else f"exit {status}"
    lines = output.strip().splitlines()
    errors = [line for line in lines if "Error" in line or "error:" in line]
    tail = errors[-1:] or lines[-1:] or [""]
    print(f"--- {step} FAILED ({reason}); output tail:\n{output[-1500:]}", file=sys.stderr)
    return Row(step, f"FAILED ({reason}): {tail[0][:80]}", target, "FAIL", seconds)


def _epoch_row(step: str, result: dict, target_key: str | None, seconds: float) -> Row:
    acc = result.get("acc")
    text = f"{result['seconds_per_epoch']:.2f} s/epoch ({result['epochs']} epochs" + (
        f", ACC {acc:.3f})" if acc is not None else ")"
    )
    if target_key is None:
        return Row(step, text, "-", "info", seconds)
    limit = TARGETS[target_key]
    verdict = "PASS" if result["seconds_per_epoch"] <= limit else "FAIL"
    return Row(step, text, f"<= {limit:g} s/epoch", verdict, seconds)


def driver(args: argparse.Namespace) -> int:
    """Every step in turn under the overall budget; the table printed and written."""
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU here (torch.cuda.is_available() is False); nothing run.")
        return 2
    started = time.perf_counter()
    deadline = started + args.budget
    python = sys.executable
    me = str(Path(__file__).resolve())
    rows: list[Row] = []

    def remaining(cap: float) -> float:
        return min(cap, deadline - time.perf_counter())

    def guarded(
        step: str, target: str, cap: float, command: list[str], on_result, needs_result=True, **kw
    ) -> None:
        timeout = remaining(cap)
        if timeout < 15:
            rows.append(Row(step, "SKIPPED: overall budget spent", target, "FAIL", 0.0))
            return
        print(f"gpu_check: {step} (timeout {timeout:.0f} s)", flush=True)
        status, output, seconds = _run(command, timeout, **kw)
        result = _result(output)
        if status != 0 or (needs_result and result is None):
            rows.append(_failed(step, target, status, output, seconds))
        else:
            rows.append(on_result(result, output, seconds))

    # 1. the gpu-marked tests
    def tests_row(_: dict | None, output: str, seconds: float) -> Row:
        summary = re.findall(r"=* ?(\d+ passed.*?) in [\d.]+s", output)
        text = summary[-1] if summary else "passed"
        skipped = re.search(r"(\d+) skipped", text)
        # one skip is expected: the no-GPU error check, which a GPU cannot provoke
        verdict = "PASS" if not skipped or int(skipped.group(1)) <= 1 else "FAIL"
        return Row("pytest -m gpu", text, "all pass", verdict, seconds)

    guarded(
        "pytest -m gpu",
        "all pass",
        150,
        [
            python,
            "-m",
            "pytest",
            "-m",
            "gpu",
            "tests/test_gpu.py",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
        ],
        tests_row,
        needs_result=False,
        env={**os.environ, "EXPLORE_REQUIRE_DATA": "1"},  # missing data fails, never skips
    )
    # 2. SSCC, paper and default (fast) configs, on the two scenes
    for dataset in ("salinas_a", "indian_pines"):
        for config in ("paper", "fast"):
            step = f"SSCC {config} {dataset}"
            key = "sscc_paper_salinas_a" if (dataset, config) == ("salinas_a", "paper") else None
            target = f"<= {TARGETS[key]:g} s/epoch" if key else "-"
            guarded(
                step,
                target,
                75,
                [
                    python,
                    me,
                    "--step",
                    "sscc",
                    "--dataset",
                    dataset,
                    "--config",
                    config,
                    "--epochs",
                    str(args.epochs),
                ],
                lambda r, _o, s, step=step, key=key: _epoch_row(step, r, key, s),
            )
    # 3. SACC on mnist_test
    guarded(
        "SACC mnist_test",
        f"<= {TARGETS['sacc_mnist_test']:g} s/epoch",
        90,
        [python, me, "--step", "sacc", "--epochs", str(args.epochs)],
        lambda r, _o, s: _epoch_row("SACC mnist_test", r, "sacc_mnist_test", s),
    )

    # 4. torchrun, one process, NCCL
    def torchrun_row(_: dict | None, output: str, seconds: float) -> Row:
        return Row(
            "torchrun 1 proc NCCL (SSCC salinas_a, 1 epoch)", "ran", "exit 0", "PASS", seconds
        )

    with tempfile.TemporaryDirectory(prefix="gpu-check-run-") as work:
        guarded(
            "torchrun 1 proc NCCL (SSCC salinas_a, 1 epoch)",
            "exit 0",
            90,
            [
                python,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node",
                "1",
                "-m",
                "explore",
                "train",
                "--method",
                "sscc",
                "--dataset",
                "salinas_a",
                "--epochs",
                "1",
                "--device",
                "cuda",
                "--out",
                f"{work}/run",
            ],
            torchrun_row,
            needs_result=False,
            env={**os.environ, "TORCH_DISTRIBUTED_DEBUG": "OFF", "NCCL_DEBUG": "WARN"},
        )

    # 5. explore predict on the synthetic 2048 x 2048 x 100 scene
    def predict_row(r: dict, _o: str, seconds: float) -> Row:
        rate = r["pixels_per_second"]
        verdict = "PASS" if rate >= TARGETS["predict"] else "FAIL"
        text = f"{rate / 1e6:.2f} M px/s ({r['seconds']:.2f} s for {r['side']}^2 px)"
        return Row("explore predict 2048x2048x100", text, ">= 5 M px/s", verdict, seconds)

    guarded(
        "explore predict 2048x2048x100",
        ">= 5 M px/s",
        150,
        [python, me, "--step", "predict"],
        predict_row,
    )

    table = render(rows, time.perf_counter() - started)
    print(table)
    Path(args.out).write_text(table)
    print(f"gpu_check: table written to {args.out}")
    return 0 if all(row.verdict in ("PASS", "info") for row in rows) else 1


def render(rows: list[Row], total: float) -> str:
    """The markdown table with its header lines (date, GPU, torch, CUDA)."""
    import torch

    lines = [
        "## GPU check",
        "",
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}",
        f"- GPU: {torch.cuda.get_device_name(0)}",
        f"- torch {torch.__version__}, CUDA {torch.version.cuda}, "
        f"cuDNN {torch.backends.cudnn.version()}, Python {sys.version.split()[0]}",
        f"- total: {total:.0f} s",
        "",
        "| step | result | target | pass/fail | seconds |",
        "| --- | --- | --- | --- | ---: |",
    ]
    for row in rows:
        result = row.result.replace("|", "/")
        lines.append(
            f"| {row.step} | {result} | {row.target} | {row.verdict} | {row.seconds:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="gpu_check.md", help="where the table is written")
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for every step")
    parser.add_argument("--epochs", type=int, default=3, help="epochs of each timed run")
    parser.add_argument("--step", choices=["sscc", "sacc", "predict"], help=argparse.SUPPRESS)
    parser.add_argument("--dataset", default="salinas_a", help=argparse.SUPPRESS)
    parser.add_argument("--config", default="paper", help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    parser.add_argument("--side", type=int, default=PREDICT_SIDE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return run_step(args) if args.step else driver(args)


if __name__ == "__main__":
    sys.exit(main())
