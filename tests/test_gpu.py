"""The CUDA path (marker `gpu`): device placement, mixed precision, exact resume and dense
inference on the GPU. Every test but the CPU-side error check skips when
`torch.cuda.is_available()` is False; `bash benchmarks/gpu_check.sh BUNDLE` runs them on a GPU
(docs/gpu.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from explore.compute import resolve_device
from explore.data.registry import load_scene
from explore.data.scene import Scene
from explore.errors import DataError
from explore.methods.sscc import SSCC

pytestmark = pytest.mark.gpu

HAS_CUDA = torch.cuda.is_available()
requires_cuda = pytest.mark.skipif(
    not HAS_CUDA, reason="needs a CUDA GPU: torch.cuda.is_available() is False"
)

TINY: dict[str, Any] = {
    "patch_size": 5,
    "batch_size": 64,
    "n_components": 4,
    "epochs": 2,
    "backbone": "light",
}
RESUME_RTOL = 1e-3
"""Resume on the GPU: losses of 'train 2' and 'train 1, checkpoint, resume 1' agree to 0.1 %
(cuDNN's backward convolutions and atomic adds are not bitwise deterministic run to run)."""
DENSE_ATOL = 1e-4
"""Dense inference in fp32 (TF32 off) on CUDA against the CPU's: probabilities within 1e-4."""


@pytest.fixture(scope="module")
def small_scene() -> Scene:
    """A 24 x 24 window of Salinas-A (real data, several classes)."""
    return load_scene("salinas_a", download=False).crop(slice(20, 44), slice(30, 54))


@pytest.fixture
def fp32_matmul() -> Any:
    """TF32 off for the test (convolutions and matmuls in full fp32), restored after."""
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def _devices(value: Any) -> set[str]:
    """Device types of every tensor in `value` (a tensor, or nested tuples / lists / dicts)."""
    if isinstance(value, torch.Tensor):
        return {value.device.type}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return set().union(*(_devices(item) for item in value)) if value else set()
    return set()


@pytest.mark.skipif(HAS_CUDA, reason="a CUDA GPU is present: the error cannot be provoked")
def test_cuda_asked_for_without_a_gpu_is_one_clear_error() -> None:
    with pytest.raises(DataError, match="no CUDA GPU is available"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


@requires_cuda
def test_auto_resolves_to_cuda() -> None:
    assert resolve_device("auto").type == "cuda"
    assert resolve_device("cuda").type == "cuda"


@requires_cuda
@pytest.mark.datasets("salinas_a")
def test_model_batches_and_generators_live_on_the_gpu(small_scene: Scene) -> None:
    model = SSCC(n_clusters=3, seed=0, device="cuda", **{**TINY, "epochs": 1})
    trainer = model.make_trainer(small_scene)
    seen: list[set[str]] = []
    original = model.training_loss

    def spy(net: torch.nn.Module, inputs: Any, generator: torch.Generator) -> Any:
        seen.append(_devices(inputs) | {generator.device.type})
        parts = original(net, inputs, generator)
        seen.append(_devices(parts))
        return parts

    model.training_loss = spy  # type: ignore[method-assign]
    assert trainer.device.type == "cuda"
    assert {p.device.type for p in trainer.model.parameters()} == {"cuda"}
    assert {b.device.type for b in trainer.model.buffers()} <= {"cuda"}
    assert trainer.augment_generator.device.type == "cuda"
    assert trainer.mixed_precision and trainer.scaler.is_enabled()
    trainer.fit()
    assert seen, "no training step ran"
    assert all(kinds == {"cuda"} for kinds in seen), seen


@requires_cuda
@pytest.mark.datasets("salinas_a")
def test_mixed_precision_is_finite_and_as_good_as_fp32(small_scene: Scene) -> None:
    results = {}
    for amp in (True, False):
        model = SSCC(n_clusters=3, seed=1, device="cuda", **{**TINY, "epochs": 3})
        trainer = model.make_trainer(small_scene)
        if not amp:
            trainer.mixed_precision = False
            trainer.scaler = torch.amp.GradScaler("cuda", enabled=False)
        history = trainer.fit()
        losses = [record.losses["loss"] for record in history]
        assert np.isfinite(losses).all(), (amp, losses)
        results[amp] = history[-1].metrics["acc"]
    assert abs(results[True] - results[False]) <= 0.1, results


@requires_cuda
@pytest.mark.datasets("salinas_a")
def test_resume_on_the_gpu_continues_exactly(small_scene: Scene, tmp_path: Path) -> None:
    straight = SSCC(n_clusters=3, seed=3, device="cuda", **TINY).fit(small_scene)
    checkpoint = tmp_path / "checkpoint.pt"
    SSCC(n_clusters=3, seed=3, device="cuda", **{**TINY, "epochs": 1}).fit(
        small_scene, checkpoint_path=checkpoint
    )
    resumed = SSCC(n_clusters=3, seed=3, device="cuda", **TINY).fit(
        small_scene, checkpoint_path=checkpoint, resume=True
    )
    assert [r.epoch for r in resumed.history_] == [1, 2]
    for a, b in zip(straight.history_, resumed.history_, strict=True):
        assert a.losses == pytest.approx(b.losses, rel=RESUME_RTOL, abs=1e-6)


@requires_cuda
@pytest.mark.datasets("salinas_a")
def test_dense_inference_on_cuda_equals_the_cpu(fp32_matmul: None, tmp_path: Path) -> None:
    crop = load_scene("salinas_a", download=False).crop(slice(10, 60), slice(20, 70))
    model = SSCC(n_clusters=4, seed=0, device="cpu", batch_size=64, n_components=4, epochs=1)
    model.fit(crop, checkpoint_path=tmp_path / "checkpoint.pt")
    assert model.trainer_.uses_dense_inference()
    cpu = model.predict_proba(crop)
    on_gpu = SSCC.from_checkpoint(tmp_path / "checkpoint.pt", device="cuda")
    trainer = on_gpu.trainer_
    assert trainer.device.type == "cuda"
    trainer.mixed_precision = False  # fp32: the comparison is of the same arithmetic
    gpu = on_gpu.predict_proba(crop)
    np.testing.assert_allclose(gpu, cpu, atol=DENSE_ATOL, rtol=0)
    trainer.mixed_precision = True  # the default on CUDA: fp16 autocast
    amp = on_gpu.predict_proba(crop)
    assert (amp.argmax(-1) == cpu.argmax(-1)).mean() >= 0.99
