"""VGG16 in plain torch with torchvision's state-dict layout, and its COOS-7 features.

:func:`vgg16` builds the network of Simonyan & Zisserman (configuration "D": 13
convolutions 3 x 3 with ReLU, 5 max-poolings, 3 fully connected layers) with exactly the
parameter names and shapes of ``torchvision.models.vgg16`` (``features.0.weight`` ...
``features.28.bias``, ``classifier.0/3/6``), so torchvision's ImageNet checkpoint
``vgg16-397923af.pth`` loads into it without torchvision.

:class:`Vgg16Representation` follows the authors' script (github.com/alexxijielu/
paired_cell_inpainting, ``human_model/utility/eval_vgg16.py``), which feeds the protein
channel alone as a grey image: ``skimage.transform.resize`` to 64 x 64 (which also turns the
image into floats by dividing by its dtype's maximum: 65,535 for COOS-7's uint16; the HPA
crops that script read were already floats in [0, 1]), ``np.rint(x * 255)``, the grey
copied into three channels, then Keras's ``preprocess_input`` ("caffe" mode: RGB -> BGR and
the ImageNet mean pixel, 103.939 / 116.779 / 123.68, subtracted; no division). So by default
(``input_scaling="authors"``) channel 0 becomes ``round(x * 255 / 65535)``, one fixed map for
every image and split, and a brighter cell stays brighter -- the brightness shifts of test3
and test4 reach the network. COOS-7 crops are already 64 x 64, so the resize changes nothing
but the dtype. ``input_scaling="per_image"`` (the project's earlier input) stretches each
image's own minimum..maximum to 0..255 instead, removing brightness and offset differences.
Departure: the weights are torchvision's (trained on RGB in [0, 1] normalised by ImageNet's
channel means and standard deviations), not Keras's Caffe-converted ones, so the same 8-bit
grey image is given in torchvision's convention, ``(v / 255 - mean) / std``, rather than
``v - mean pixel`` in BGR: each network gets the input its weights were trained on. Every
convolutional layer gives one feature matrix: its activation map (after the ReLU) is
reduced to one value per channel by global max pooling -- the paper's "max-pooling
convolutional layers". Max pooling keeps the strongest response of each filter anywhere in
the cell, which does not depend on where in the 64 x 64 crop the pattern sits and gives a
vector of the layer's width (64 to 512) whatever the map's size. Only the layers up to the
deepest one requested are computed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

import numpy as np
import torch
from torch import nn

from coos_utils.data.digest import file_digest
from coos_utils.data.split import CoosSplit
from coos_utils.features.base import EXECUTION_SETTINGS, Representation
from coos_utils.models.device_data import stream_batches
from coos_utils.models.extract import extract
from coos_utils.models.runtime import cpu_threads, prepare_module, resolve_device
from coos_utils.models.weights import VGG16_IMAGENET, MissingWeightsError, imagenet_weights_path

# Convolution widths of VGG16; "M" is a 2 x 2 max-pooling.
VGG16_LAYOUT: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)  # fmt: skip
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
InputScaling = Literal["authors", "per_image"]
UINT16_MAX = 65535.0


def conv_layer_names() -> dict[str, int]:
    """``"conv1_1"`` ... ``"conv5_3"`` -> index in ``features`` of the ReLU after that conv."""
    names: dict[str, int] = {}
    block, within, index = 1, 0, 0
    for item in VGG16_LAYOUT:
        if item == "M":
            block, within, index = block + 1, 0, index + 1
        else:
            within += 1
            names[f"conv{block}_{within}"] = index + 1
            index += 2
    return names


CONV_LAYERS: dict[str, int] = conv_layer_names()


class VGG16(nn.Module):
    """VGG16 with torchvision's module layout (``include_classifier=False`` drops the 3
    fully connected layers, 124 M of the 138 M parameters, which feature extraction never
    uses)."""

    def __init__(self, include_classifier: bool = True, n_classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for item in VGG16_LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU()]
                channels = int(item)
        self.features = nn.Sequential(*layers)
        self.include_classifier = include_classifier
        if include_classifier:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 7 * 7, 4096),
                nn.ReLU(),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Dropout(),
                nn.Linear(4096, n_classes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits, or the last pooled feature map without the classifier."""
        x = self.features(x)
        if not self.include_classifier:
            return x
        return self.classifier(torch.flatten(self.avgpool(x), 1))

    def init_random(self, seed: int) -> None:
        """torchvision's initialisation, drawn from a generator seeded with ``seed``."""
        generator = torch.Generator().manual_seed(seed)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(
                    module.weight, mode="fan_out", nonlinearity="relu", generator=generator
                )
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01, generator=generator)
                nn.init.zeros_(module.bias)


def vgg16(
    weights: str | Path | None = None, seed: int = 0, include_classifier: bool = True
) -> VGG16:
    """VGG16 with ``weights``: None (random, seeded by ``seed``), ``"imagenet"`` (torchvision's
    ``vgg16-397923af.pth`` from the torch hub cache, SHA-256 checked) or a checkpoint path.

    A missing ImageNet file raises :class:`MissingWeightsError` saying where to put it and
    which command downloads it.
    """
    if weights is None:
        model = VGG16(include_classifier=include_classifier)
        model.init_random(seed)
        return model
    path = _checked_weights_path(weights)
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not include_classifier:
        state = {k: v for k, v in state.items() if k.startswith("features.")}
    model = VGG16(include_classifier=include_classifier)
    model.load_state_dict(state)
    return model


def _checked_weights_path(weights: str | Path) -> Path:
    """The checkpoint file ``weights`` names; ``"imagenet"`` must exist and be ImageNet's."""
    if weights != "imagenet":
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"no VGG16 checkpoint at {path}")
        return path
    path = imagenet_weights_path()
    if not path.is_file():
        raise MissingWeightsError(path)
    digest = file_digest(path)
    if not digest.startswith(VGG16_IMAGENET.sha256_prefix):
        raise ValueError(
            f"{path} is not torchvision's ImageNet VGG16: its SHA-256 is {digest}, expected "
            f"one starting with {VGG16_IMAGENET.sha256_prefix}; delete it and run "
            "`coos weights vgg16`"
        )
    return path


def weights_id(weights: str | Path | None, seed: int) -> str:
    """What the weights are, for cache keys: ``imagenet-397923af``, ``random-seed<N>``, or
    ``sha256-<16 hex>`` of a file (an ImageNet file given by path counts as ImageNet)."""
    if weights is None:
        return f"random-seed{seed}"
    if weights == "imagenet":
        return f"imagenet-{VGG16_IMAGENET.sha256_prefix}"
    digest = file_digest(weights)
    if digest.startswith(VGG16_IMAGENET.sha256_prefix):
        return f"imagenet-{VGG16_IMAGENET.sha256_prefix}"
    return f"sha256-{digest[:16]}"


def eight_bit(
    protein: torch.Tensor, scaling: InputScaling = "authors", input_max: float = UINT16_MAX
) -> torch.Tensor:
    """(N, 1, H, W) raw intensities -> grey levels 0..255 (rounded, as the authors' ``np.rint``).

    ``"authors"``: one fixed map for every image, ``input_max`` -> 255 (larger values clip);
    ``"per_image"``: each image's own minimum -> 0 and maximum -> 255 (a constant image -> 0),
    which removes any brightness or offset difference between images.
    """
    if scaling == "authors":
        return torch.round(protein / input_max * 255).clamp(0, 255)
    if scaling == "per_image":
        low = protein.amin(dim=(2, 3), keepdim=True)
        span = protein.amax(dim=(2, 3), keepdim=True) - low
        stretched = torch.round((protein - low) / span.clamp_min(1e-12) * 255)
        return torch.where(span > 0, stretched, torch.zeros_like(stretched))
    raise ValueError(f"unknown input_scaling {scaling!r}; use one of {get_args(InputScaling)}")


FEW_GREY_LEVELS = 16
"""Below this median number of distinct 8-bit levels per cell, the fixed map is flagged."""


def grey_levels(split: CoosSplit, input_max: float, n_images: int = 256) -> float:
    """Median number of distinct 8-bit grey levels of channel 0 per image under the fixed
    ``input_max -> 255`` map, over ``n_images`` images spread evenly over ``split``."""
    rows = np.unique(np.linspace(0, len(split) - 1, min(n_images, len(split))).astype(np.int64))
    protein = torch.from_numpy(np.asarray(split.images[rows][:, :1], dtype=np.float32))
    levels = eight_bit(protein, "authors", input_max).flatten(1)
    return float(np.median([len(torch.unique(row)) for row in levels]))


def warn_if_few_grey_levels(split: CoosSplit, input_max: float) -> None:
    """Warn, naming the file, when the authors' fixed 8-bit map leaves the cells of ``split``
    so few grey levels that VGG16 sees little more than a silhouette (dim 12-bit data read
    as 16-bit): the number is then the authors' method on these files, but a poor one."""
    levels = grey_levels(split, input_max)
    if levels < FEW_GREY_LEVELS:
        warnings.warn(
            f"{split.path.name}: under the authors' fixed 8-bit map "
            f"(input_max={input_max:g} -> 255) the cells of split {split.name!r} keep a "
            f"median of {levels:g} grey levels; "
            "VGG16 features will be poor. Set input_max to the camera's range (e.g. 4095 for "
            "12-bit data) or input_scaling='per_image'",
            stacklevel=2,
        )


def vgg_input(
    x: torch.Tensor, scaling: InputScaling = "authors", input_max: float = UINT16_MAX
) -> torch.Tensor:
    """(N, 2, H, W) raw intensities -> (N, 3, H, W): channel 0 as 8-bit grey (:func:`eight_bit`)
    in all three colour channels, scaled to [0, 1] and ImageNet-normalised (torchvision's)."""
    unit = eight_bit(x[:, :1], scaling, input_max) / 255
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (unit.expand(-1, 3, -1, -1) - mean) / std


class Vgg16Representation(Representation):
    """Max-pooled activations of VGG16's convolutional layers (one output per layer).

    ``weights``: ``"imagenet"`` (the paper), None (random weights seeded by ``seed``, a
    control), a checkpoint path, or ``"auto"``: ImageNet when its checkpoint is in the torch
    hub cache, random otherwise (what the book's profiles use, so that a machine without the
    file still builds the book, every VGG16 row then saying "random init"). Display names
    say when the weights are not ImageNet's: "VGG16 Conv3_3 (random init)" or
    "VGG16 Conv3_3 (weights <8 hex of its SHA-256>)".
    ``layers`` restricts the outputs (default: all 13). ``input_scaling``: ``"authors"``
    (one fixed 8-bit map for every image, ``input_max`` -> 255) or ``"per_image"`` (each
    image's own range; display names then end in "per-image stretch"); see :func:`eight_bit`.
    """

    name: ClassVar[str] = "vgg16"
    learns: ClassVar[bool] = False
    execution_settings: ClassVar[frozenset[str]] = EXECUTION_SETTINGS | {"batch_size"}
    """``batch_size`` only chunks the eval-mode pass (fixed weights, no batch statistics)."""

    def __init__(
        self,
        weights: str | Path | None = "imagenet",
        layers: Sequence[str] | None = None,
        seed: int = 0,
        input_scaling: InputScaling = "authors",
        input_max: float = UINT16_MAX,
        batch_size: int = 256,
        device: str | None = None,
        n_jobs: int | None = -1,
        progress: bool = True,
        work_dir: str | Path | None = None,
    ) -> None:
        super().__init__(device=device, n_jobs=n_jobs, progress=progress, work_dir=work_dir)
        if input_scaling not in get_args(InputScaling):
            raise ValueError(
                f"unknown input_scaling {input_scaling!r}; use one of {get_args(InputScaling)}"
            )
        if not input_max > 0:
            raise ValueError(f"input_max must be positive, got {input_max}")
        self.input_scaling, self.input_max = input_scaling, float(input_max)
        if weights == "auto":
            weights = "imagenet" if imagenet_weights_path().exists() else None
        self.weights = weights
        self.layers = tuple(layers) if layers is not None else tuple(CONV_LAYERS)
        unknown = [name for name in self.layers if name not in CONV_LAYERS]
        if unknown:
            raise ValueError(f"unknown VGG16 layers {unknown}; choose from {list(CONV_LAYERS)}")
        self.seed, self.batch_size = seed, batch_size
        self._weights_id: str | None = None
        self._model: VGG16 | None = None

    @property
    def weights_id(self) -> str:
        if self._weights_id is None:
            self._weights_id = weights_id(self.weights, self.seed)
        return self._weights_id

    @property
    def is_imagenet(self) -> bool:
        return self.weights_id.startswith("imagenet-")

    def derived_params(self) -> dict[str, Any]:
        """The weights by their id (checksum or seed), not their path; pooling and input map."""
        return {
            "weights": self.weights_id,
            "pooling": "global-max",
            "input": "channel0-8bit-grey-rgb-imagenet-norm",
        }

    def outputs(self) -> dict[str, str]:
        notes = []
        if self.weights is None:
            notes.append("random init")
        elif not self.is_imagenet:
            notes.append(f"weights {self.weights_id.removeprefix('sha256-')[:8]}")
        if self.input_scaling == "per_image":
            notes.append("per-image stretch")
        suffix = f" ({', '.join(notes)})" if notes else ""
        return {name: f"VGG16 {name.capitalize()}{suffix}" for name in self.layers}

    def _network(self, device: torch.device) -> VGG16:
        if self._model is None:
            self._model = prepare_module(
                vgg16(self.weights, seed=self.seed, include_classifier=False), device
            ).eval()
        return self._model

    def transform(self, split: CoosSplit) -> dict[str, np.ndarray]:
        if self.input_scaling == "authors":
            warn_if_few_grey_levels(split, self.input_max)
        device = resolve_device(self.device)
        with cpu_threads(self.n_jobs):
            model = self._network(device)
            batches = stream_batches(
                split,
                partial(vgg_input, scaling=self.input_scaling, input_max=self.input_max),
                device,
                self.batch_size,
                progress=self.progress,
                desc=f"VGG16 {split.name}",
            )
            modules = [f"features.{CONV_LAYERS[name]}" for name in self.layers]
            values = extract(model, batches, modules, pooling="max")
        return {name: values[module] for name, module in zip(self.layers, modules, strict=True)}
