"""Feature extractors: one interface that turns an `ImageSet` into (N, d) feature vectors, for
UMAP and the Dirichlet-process mixture of transfer clustering (docs/methods.md, section 4).

- `DinoV2Extractor`: a DINOv2 vision transformer through `transformers`
  (`Dinov2Model.from_pretrained`), from a local folder written by `save_pretrained` or a model
  name (the paper's choice; names need the Hugging Face cache or a network).
- `RunExtractor`: the backbone of any `explore train` run (`run:DIR`, a folder holding
  `checkpoint.pt`), e.g. a CC or SACC backbone pretrained without labels: the offline default.
- `PixelExtractor`: raw pixels, optionally projected by PCA: the baseline.

Every extractor says which images it takes (`input_channels`, `required_size`). `prepare` checks
a set against that and either raises `IncompatibleImagesError` naming the fix, or, when asked
(`resize=True`, `channels="repeat"` or `"gray"`), applies the fix and records what it did in
`adaptations_`, so callers can say so. `resolve_extractor` builds one from a command-line spec
(`pixels`, `pixels:N`, `run:DIR`, `dinov2:NAME_OR_PATH`). `transformers` is imported lazily.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from explore.compute import limit_threads, resolve_device
from explore.data.images import ImageSet
from explore.errors import DataError, IncompatibleImagesError, ModelNotFoundError
from explore.params import whole_number

__all__ = [
    "CHANNEL_MODES",
    "DEFAULT_DINOV2",
    "DinoV2Extractor",
    "Extractor",
    "PixelExtractor",
    "RunExtractor",
    "TorchExtractor",
    "adapt_batchnorm",
    "resolve_extractor",
]

ChannelMode = Literal["strict", "repeat", "gray"]
CHANNEL_MODES: tuple[str, ...] = ("strict", "repeat", "gray")
DEFAULT_DINOV2 = "facebook/dinov2-small"
# ImageNet statistics, which DINOv2 was trained with (its image processor's defaults).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class Extractor(ABC):
    """Turns images into feature vectors: `features(images)` -> (N, d) float32.

    `resize` and `channels` say whether images the extractor cannot take are adapted (resized;
    gray repeated to RGB with "repeat", RGB to luma with "gray") or refused with an
    `IncompatibleImagesError` that names the fix ("strict" channels, `resize=False`).
    """

    name: str = "extractor"

    def __init__(self, *, resize: bool = False, channels: ChannelMode = "strict") -> None:
        if channels not in CHANNEL_MODES:
            raise DataError(f"channels must be one of {CHANNEL_MODES}; got {channels!r}")
        self.resize = bool(resize)
        self.channels = channels
        self.adaptations_: list[str] = []

    # ------------------------------------------------------------------ what it takes
    @property
    def input_channels(self) -> int | None:
        """Channels the extractor takes (None: any)."""
        return None

    def required_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The (height, width) images of this size must be resized to, or None if they fit."""
        return None

    def size_rule(self) -> str:
        """What sizes the extractor takes, in words (for error messages)."""
        return "images of any size"

    @property
    def label(self) -> str:
        """A short description for messages, e.g. `run:runs/cc backbone`."""
        return self.name

    # ------------------------------------------------------------------ adapting inputs
    def prepare(self, images: ImageSet) -> ImageSet:
        """`images` adapted to what the extractor takes (channels first, then size), or an
        `IncompatibleImagesError` naming the fix; what was done is kept in `adaptations_`."""
        if not isinstance(images, ImageSet):
            raise DataError(f"{self.label} takes an ImageSet; got {type(images).__name__}")
        notes: list[str] = []
        wanted = self.input_channels
        if wanted is not None and images.n_channels != wanted:
            if (images.n_channels, wanted) == (1, 3):
                needed, how, method = "repeat", "repeat the gray channel to RGB", "to_rgb"
            elif (images.n_channels, wanted) == (3, 1):
                needed, how, method = "gray", "convert RGB to gray (luma)", "to_grayscale"
            else:
                raise IncompatibleImagesError(
                    f"{self.label} takes {wanted}-channel images; {images.name!r} has "
                    f"{images.n_channels} and no channel mapping applies"
                )
            if self.channels != needed:
                raise IncompatibleImagesError(
                    f"{self.label} takes {wanted}-channel images but {images.name!r} has "
                    f"{images.n_channels}: pass channels={needed!r} (CLI: --channels {needed}) "
                    f"to {how}, or convert the images first (ImageSet.{method}())"
                )
            images = getattr(images, method)()
            notes.append(f"{how} for {self.label}, which takes {wanted}-channel images")
        height, width = images.images.shape[2:]
        size = self.required_size(height, width)
        if size is not None and size != (height, width):
            if not self.resize:
                raise IncompatibleImagesError(
                    f"{self.label} takes {self.size_rule()}; {images.name!r} has {height} x "
                    f"{width} images: pass resize=True (CLI: --resize) to resize them to "
                    f"{size[0]} x {size[1]}, or resize them first (ImageSet.resize)"
                )
            images = images.resize(*size)
            notes.append(
                f"resized {height} x {width} -> {size[0]} x {size[1]} for {self.label}, which "
                f"takes {self.size_rule()}"
            )
        self.adaptations_ = notes
        return images

    # ------------------------------------------------------------------ features
    @abstractmethod
    def features(self, images: ImageSet) -> np.ndarray:
        """Feature vectors (N, d) float32 of `images` (adapted by `prepare` first)."""

    def describe(self) -> dict[str, Any]:
        """Plain settings for records (metrics.json)."""
        return {"extractor": self.label, "resize": self.resize, "channels": self.channels}


class PixelExtractor(Extractor):
    """Raw pixels (N, C*H*W), projected by PCA to `n_components` (None: raw).

    The PCA is fitted on the images given to `features` (transductive and label-free: the
    baseline clusters the target's own principal components). Takes any size and channels.
    """

    name = "pixels"

    def __init__(
        self,
        n_components: int | None = 50,
        *,
        seed: int = 0,
        resize: bool = False,
        channels: ChannelMode = "strict",
    ) -> None:
        super().__init__(resize=resize, channels=channels)
        if n_components is not None and not (
            isinstance(n_components, int | np.integer) and n_components >= 1
        ):
            raise DataError(f"n_components must be None or an integer >= 1; got {n_components!r}")
        self.n_components = n_components
        self.seed = seed

    @property
    def label(self) -> str:
        return "pixels" if self.n_components is None else f"pixels:{self.n_components}"

    def features(self, images: ImageSet) -> np.ndarray:
        prepared = self.prepare(images)
        flat = prepared.images.reshape(prepared.n_images, -1)
        if self.n_components is None:
            return flat.astype(np.float32, copy=True)
        from sklearn.decomposition import PCA

        n_components = int(min(self.n_components, *flat.shape))
        with limit_threads():
            projected = PCA(n_components, random_state=self.seed).fit_transform(flat)
        return projected.astype(np.float32)


class TorchExtractor(Extractor):
    """An extractor backed by a torch network `module` on `device`.

    `forward(x)` maps prepared images (B, C, H, W) in [0, 1] on the device to features (B, d)
    with gradients (fine-tuning uses it); `features` runs it batch by batch in eval mode.
    """

    module: nn.Module

    def __init__(
        self,
        *,
        resize: bool = False,
        channels: ChannelMode = "strict",
        device: str = "auto",
        batch_size: int = 256,
    ) -> None:
        super().__init__(resize=resize, channels=channels)
        if int(batch_size) < 1:
            raise DataError(f"batch_size must be >= 1; got {batch_size}")
        self.device = resolve_device(device)
        self.batch_size = int(batch_size)

    @abstractmethod
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features (B, d) of prepared images x (B, C, H, W) in [0, 1]."""

    def features(self, images: ImageSet) -> np.ndarray:
        prepared = self.prepare(images)
        was_training = self.module.training
        self.module.eval()
        outputs = []
        try:
            with torch.no_grad():
                for start in range(0, prepared.n_images, self.batch_size):
                    batch = torch.from_numpy(prepared.images[start : start + self.batch_size])
                    outputs.append(self.forward(batch.to(self.device)).float().cpu())
        finally:
            self.module.train(was_training)
        return torch.cat(outputs).numpy()

    @property
    def out_features(self) -> int:
        """Dimension d of the features (measured once with a forward pass of zeros)."""
        if not hasattr(self, "_out_features"):
            channels = self.input_channels or 3
            size = self.required_size(28, 28) or (28, 28)
            was_training = self.module.training
            self.module.eval()
            with torch.no_grad():
                probe = torch.zeros((2, channels, *size), device=self.device)
                self._out_features = int(self.forward(probe).shape[1])
            self.module.train(was_training)
        return self._out_features

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "device": str(self.device)}


class RunExtractor(TorchExtractor):
    """The backbone of an `explore train` run on images (a folder with `checkpoint.pt`, or the
    file itself): features are the method's `embed` output, what `transform` gives.

    It takes exactly the images the run was trained on (channels and size): others raise
    `IncompatibleImagesError` unless `resize` / `channels` allow the fix.
    """

    name = "run"

    def __init__(
        self,
        run: str | os.PathLike[str],
        *,
        resize: bool = False,
        channels: ChannelMode = "strict",
        device: str = "auto",
        batch_size: int = 256,
    ) -> None:
        super().__init__(resize=resize, channels=channels, device=device, batch_size=batch_size)
        from explore.methods import get_method_class
        from explore.training.checkpoint import load_checkpoint

        path = Path(run).expanduser()
        checkpoint = path / "checkpoint.pt" if path.is_dir() else path
        if not checkpoint.is_file():
            raise ModelNotFoundError(
                f"no checkpoint.pt at {path}: give the --out folder of an `explore train` run "
                f"(e.g. explore train --method cc --dataset mnist_test --out {path})"
            )
        self.run = path
        method_name = str(load_checkpoint(checkpoint).get("method", ""))
        method = get_method_class(method_name).from_checkpoint(checkpoint, device=str(self.device))
        if method.preprocessor_ is not None or len(method.input_shape_) != 3:
            raise DataError(
                f"run {path} was trained on hyperspectral patches, not images: transfer "
                "clustering needs a run trained on an image set"
            )
        # Only the network is kept (not the method and its trainer), so an extractor can be
        # copied before fine-tuning.
        self.method_name = method.name
        self.module = method.model_
        self.input_shape = tuple(int(v) for v in method.input_shape_)

    @property
    def label(self) -> str:
        return f"run:{self.run} ({self.method_name} backbone)"

    @property
    def input_channels(self) -> int:
        return self.input_shape[0]

    def required_size(self, height: int, width: int) -> tuple[int, int]:
        return self.input_shape[1], self.input_shape[2]

    def size_rule(self) -> str:
        channels, height, width = self.input_shape
        return f"{channels} x {height} x {width} images (what the run was trained on)"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.embed(x)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "run_method": self.method_name}


def adapt_batchnorm(extractor: TorchExtractor, images: ImageSet) -> int:
    """Re-estimate the running statistics of every BatchNorm layer of `extractor` on `images`
    (AdaBN, Li et al. 2016: unsupervised domain adaptation, no labels, no gradient), so a
    backbone trained on a source normalises the target with the target's own statistics.
    Changes the extractor in place; returns the number of layers adapted (0: nothing to do,
    e.g. DINOv2, which uses LayerNorm)."""
    layers = [
        module
        for module in extractor.module.modules()
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.track_running_stats
    ]
    if not layers:
        return 0
    prepared = extractor.prepare(images)
    momenta = [layer.momentum for layer in layers]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # a cumulative average over all the target's batches
    extractor.module.train()
    try:
        with torch.no_grad():
            for start in range(0, prepared.n_images, extractor.batch_size):
                batch = torch.from_numpy(prepared.images[start : start + extractor.batch_size])
                if batch.shape[0] > 1:  # BatchNorm needs two items to estimate a variance
                    extractor.forward(batch.to(extractor.device))
    finally:
        extractor.module.eval()
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    return len(layers)


def _load_dinov2(name_or_path: str, download: bool) -> nn.Module:
    """`Dinov2Model.from_pretrained` from a local folder, the Hugging Face cache or (with
    `download`) the hub; ModelNotFoundError naming the fix when none has it."""
    text = os.fspath(name_or_path)
    path = Path(text).expanduser()
    if path.is_file():
        path = path.parent  # a weights or config file: its folder holds the model
    looks_like_path = path.exists() or text.startswith((".", "/", "~")) or text.count("/") > 1
    if looks_like_path:
        if not path.is_dir():
            raise ModelNotFoundError(
                f"no DINOv2 folder at {path}: give a folder written by "
                "Dinov2Model.save_pretrained (config.json + model.safetensors) or a model name"
            )
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"{path} holds no config.json: a DINOv2 folder is what "
                "Dinov2Model.save_pretrained writes (config.json + model.safetensors)"
            )
    offline_env = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes"}
    from transformers import Dinov2Model
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        if looks_like_path:
            model = Dinov2Model.from_pretrained(str(path), local_files_only=True)
        else:
            model = Dinov2Model.from_pretrained(text, local_files_only=not download)
    except (OSError, ValueError) as error:
        if looks_like_path:
            raise ModelNotFoundError(f"cannot load DINOv2 from {path}: {error}") from error
        if not download:
            reason = "is not in the local Hugging Face cache and downloads are off"
            fix = "pass download=True (CLI: --download; needs a network) to fetch it"
        elif offline_env:
            reason = "cannot be downloaded: HF_HUB_OFFLINE is set"
            fix = "unset HF_HUB_OFFLINE on a machine with a network"
        else:
            reason = "could not be downloaded (no network?)"
            fix = "download it where there is a network"
        raise ModelNotFoundError(
            f"DINOv2 model {text!r} {reason}: {fix}, or give a local folder written by "
            "Dinov2Model.save_pretrained (dinov2:PATH)"
        ) from error
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return model


class DinoV2Extractor(TorchExtractor):
    """DINOv2 (the paper's network) through `transformers`: the [CLS] token of the last layer
    (after its layer norm), the mean of the patch tokens, or both concatenated (`pooling`).

    Inputs: RGB (gray images need `channels="repeat"`, the default here), normalised with
    ImageNet statistics; sides must be multiples of the patch size (14), so images are resized
    to `image_size` x `image_size` (224, DINOv2's training size; None: the nearest multiples of
    the patch size), which `adaptations_` records. `model` is a folder written by
    `save_pretrained` or a hub name; names load from the local cache only unless `download=True`,
    so a missing model fails at once with `ModelNotFoundError` naming the fix.
    """

    name = "dinov2"

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_DINOV2,
        *,
        image_size: int | None = 224,
        pooling: Literal["cls", "mean", "cls+mean"] = "cls",
        download: bool = False,
        resize: bool = True,
        channels: ChannelMode = "repeat",
        device: str = "auto",
        batch_size: int = 64,
    ) -> None:
        super().__init__(resize=resize, channels=channels, device=device, batch_size=batch_size)
        if pooling not in ("cls", "mean", "cls+mean"):
            raise DataError(f"pooling must be 'cls', 'mean' or 'cls+mean'; got {pooling!r}")
        self.model_name = os.fspath(model)
        self.pooling = pooling
        self.download = download
        self.module = _load_dinov2(self.model_name, download).to(self.device).eval()
        self.patch_size = int(self.module.config.patch_size)
        if image_size is not None and (
            int(image_size) < self.patch_size or int(image_size) % self.patch_size
        ):
            raise DataError(
                f"image_size must be a multiple of the patch size {self.patch_size}; "
                f"got {image_size}"
            )
        self.image_size = None if image_size is None else int(image_size)
        self._mean = torch.tensor(IMAGENET_MEAN, device=self.device).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD, device=self.device).view(1, 3, 1, 1)

    @property
    def label(self) -> str:
        return f"dinov2:{self.model_name}"

    @property
    def input_channels(self) -> int:
        return 3

    def required_size(self, height: int, width: int) -> tuple[int, int]:
        if self.image_size is not None:
            return self.image_size, self.image_size
        patch = self.patch_size
        return (
            max(patch, round(height / patch) * patch),
            max(patch, round(width / patch) * patch),
        )

    def size_rule(self) -> str:
        if self.image_size is not None:
            return (
                f"{self.image_size} x {self.image_size} images (image_size; sides must be "
                f"multiples of its patch size {self.patch_size})"
            )
        return f"sides that are multiples of its patch size {self.patch_size}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.module(pixel_values=(x - self._mean) / self._std).last_hidden_state
        cls, patches = tokens[:, 0], tokens[:, 1:].mean(dim=1)
        if self.pooling == "cls":
            return cls
        if self.pooling == "mean":
            return patches
        return torch.cat([cls, patches], dim=1)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "image_size": self.image_size, "pooling": self.pooling}


def resolve_extractor(
    spec: str | Extractor,
    *,
    resize: bool | None = None,
    channels: ChannelMode | None = None,
    device: str = "auto",
    download: bool = False,
    seed: int = 0,
) -> Extractor:
    """An extractor from a spec: `pixels` (PCA to 50 components), `pixels:N` (N components;
    0 = raw pixels), `run:DIR` (an `explore train` run's backbone), `dinov2` (the default model
    name) or `dinov2:NAME_OR_PATH`. An `Extractor` is returned as is. `resize` / `channels`
    None keep each extractor's own default."""
    if isinstance(spec, Extractor):
        return spec
    if not isinstance(spec, str):
        raise DataError(f"extractor must be a spec string or an Extractor; got {spec!r}")
    kind, _, argument = spec.partition(":")
    adapt: dict[str, Any] = {}
    if resize is not None:
        adapt["resize"] = resize
    if channels is not None:
        adapt["channels"] = channels
    if kind == "pixels":
        if not argument:
            return PixelExtractor(seed=seed, **adapt)
        n_components = whole_number(argument)
        if n_components is None:
            raise DataError(f"pixels:N needs a number of PCA components N >= 0; got {spec!r}")
        return PixelExtractor(n_components or None, seed=seed, **adapt)
    if kind == "run" and argument:
        return RunExtractor(argument, device=device, **adapt)
    if kind == "dinov2":
        name = argument or DEFAULT_DINOV2
        return DinoV2Extractor(name, download=download, device=device, **adapt)
    raise DataError(
        f"unknown extractor {spec!r}; use pixels, pixels:N, run:DIR or dinov2:NAME_OR_PATH"
    )
