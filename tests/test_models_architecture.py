"""Layer shapes and parameter counts of DeepLoc, VGG16 and PCI, from the papers' numbers."""

from __future__ import annotations

import pytest
import torch

from coos_utils.models import VGG16, DeepLoc, PairedCellInpainting
from coos_utils.models.vgg import CONV_LAYERS
from tests.torch_threads import one_torch_thread  # noqa: F401  (autouse fixture)


def conv_params(cin: int, cout: int, k: int = 3, norm: bool = True) -> int:
    """Weights + bias of a k x k convolution, + scale and shift of its batch norm."""
    return k * k * cin * cout + cout + (2 * cout if norm else 0)


def dense_params(din: int, dout: int, norm: bool = True) -> int:
    return din * dout + dout + (2 * dout if norm else 0)


def output_shapes(model: torch.nn.Module, names: list[str], *inputs: torch.Tensor) -> dict:
    shapes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    handles = [
        modules[name].register_forward_hook(
            lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:]))
        )
        for name in names
    ]
    model.eval()
    with torch.no_grad():
        model(*inputs)
    for handle in handles:
        handle.remove()
    return shapes


# DeepLoc (Kraus et al. 2017): 8 convs 3x3 (64, 64, 128, 128, 256 x 4), pools after 2, 4, 8,
# FC 512, FC 512, classes. 60 x 60 crops, 2 channels.
DEEPLOC_SHAPES = {
    "featurizer.conv1": (64, 60, 60),
    "featurizer.conv2": (64, 60, 60),
    "featurizer.pool1": (64, 30, 30),
    "featurizer.conv3": (128, 30, 30),
    "featurizer.conv4": (128, 30, 30),
    "featurizer.pool2": (128, 15, 15),
    "featurizer.conv5": (256, 15, 15),
    "featurizer.conv6": (256, 15, 15),
    "featurizer.conv7": (256, 15, 15),
    "featurizer.conv8": (256, 15, 15),
    "featurizer.pool3": (256, 8, 8),
    "featurizer.fc1": (512,),
    "featurizer.fc2": (512,),
    "classifier": (7,),
}


def test_deeploc_layers_and_parameter_count() -> None:
    model = DeepLoc(n_classes=7)
    x = torch.zeros(2, 2, 60, 60)
    assert output_shapes(model, list(DEEPLOC_SHAPES), x) == DEEPLOC_SHAPES
    widths = [2, 64, 64, 128, 128, 256, 256, 256, 256]
    expected = sum(conv_params(a, b) for a, b in zip(widths, widths[1:], strict=False))
    expected += dense_params(256 * 8 * 8, 512) + dense_params(512, 512) + dense_params(512, 7)
    assert sum(p.numel() for p in model.parameters()) == expected == 10_985_237
    # 64 x 64 inputs reach the same 8 x 8 map, so whole images work as well as crops
    assert model(torch.zeros(2, 2, 64, 64)).shape == (2, 7)
    assert model.embed(torch.zeros(2, 2, 60, 60)).shape == (2, 512)
    plain = DeepLoc(n_classes=7, logit_norm=False).classifier
    assert isinstance(plain, torch.nn.Linear) and plain.in_features == 512


def test_deeploc_width_scales_convolutions_only() -> None:
    model = DeepLoc(n_classes=7, width=0.25, fc_units=64)
    shapes = output_shapes(
        model, ["featurizer.conv2", "featurizer.conv8", "featurizer.fc2"], torch.zeros(2, 2, 60, 60)
    )
    assert shapes == {
        "featurizer.conv2": (16, 60, 60),
        "featurizer.conv8": (64, 15, 15),
        "featurizer.fc2": (64,),
    }
    assert torch.equal(
        model.classifier(model.featurizer(torch.ones(2, 2, 60, 60))),
        model(torch.ones(2, 2, 60, 60)),
    )


# VGG16 (configuration D): 13 convs 3x3 and 3 fully connected layers, torchvision's layout.
VGG16_CONVS = [
    (0, 3, 64), (2, 64, 64),
    (5, 64, 128), (7, 128, 128),
    (10, 128, 256), (12, 256, 256), (14, 256, 256),
    (17, 256, 512), (19, 512, 512), (21, 512, 512),
    (24, 512, 512), (26, 512, 512), (28, 512, 512),
]  # fmt: skip
VGG16_LINEAR = [(0, 25088, 4096), (3, 4096, 4096), (6, 4096, 1000)]


def expected_vgg16_state() -> dict[str, tuple[int, ...]]:
    state: dict[str, tuple[int, ...]] = {}
    for index, cin, cout in VGG16_CONVS:
        state[f"features.{index}.weight"] = (cout, cin, 3, 3)
        state[f"features.{index}.bias"] = (cout,)
    for index, din, dout in VGG16_LINEAR:
        state[f"classifier.{index}.weight"] = (dout, din)
        state[f"classifier.{index}.bias"] = (dout,)
    return state


def test_vgg16_state_dict_has_torchvisions_keys_and_shapes() -> None:
    with torch.device("meta"):
        model = VGG16()
    state = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    expected = expected_vgg16_state()
    assert len(expected) == 32
    assert list(state) == list(expected)  # same keys, same order
    assert state == expected
    assert sum(p.numel() for p in model.parameters()) == 138_357_544


def test_vgg16_conv_layer_names_and_shapes() -> None:
    assert list(CONV_LAYERS) == [
        "conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3",
        "conv4_1", "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3",
    ]  # fmt: skip
    # each name points at the ReLU right after its convolution
    assert [CONV_LAYERS[n] - 1 for n in CONV_LAYERS] == [i for i, _, _ in VGG16_CONVS]
    model = VGG16(include_classifier=False)
    assert set(model.state_dict()) == {k for k in expected_vgg16_state() if "features" in k}
    names = {f"features.{i}": n for n, i in CONV_LAYERS.items()}
    shapes = output_shapes(model, list(names), torch.zeros(1, 3, 64, 64))
    size = {1: 64, 2: 32, 3: 16, 4: 8, 5: 4}
    width = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}
    for module, name in names.items():
        block = int(name[4])
        assert shapes[module] == (width[block], size[block], size[block]), name


# PCI (Lu et al. 2019): source encoder 96, pool, 256, pool, 384, 384, 256; target encoder
# 16, pool, 32, pool, 32; decoder 256, 384, 384, up, 256, up, 96, 1x1 -> 1.
PCI_SHAPES = {
    "source.conv1": (96, 64, 64),
    "source.conv2": (256, 32, 32),
    "source.conv3": (384, 16, 16),
    "source.conv4": (384, 16, 16),
    "source.conv5": (256, 16, 16),
    "target.conv1": (16, 64, 64),
    "target.conv2": (32, 32, 32),
    "target.conv3": (32, 16, 16),
    "decoder.conv8": (384, 16, 16),
    "decoder.conv9": (256, 32, 32),
    "decoder.conv10": (96, 64, 64),
    "decoder.out": (1, 64, 64),
}


def test_pci_layers_and_parameter_count() -> None:
    model = PairedCellInpainting()
    shapes = output_shapes(
        model, list(PCI_SHAPES), torch.zeros(1, 2, 64, 64), torch.zeros(1, 1, 64, 64)
    )
    assert shapes == PCI_SHAPES
    source = [(2, 96), (96, 256), (256, 384), (384, 384), (384, 256)]
    target = [(1, 16), (16, 32), (32, 32)]
    decoder = [(256 + 32, 256), (256, 384), (384, 384), (384, 256), (256, 96)]
    expected = sum(conv_params(a, b) for a, b in source + target)
    expected += sum(conv_params(a, b, norm=False) for a, b in decoder)
    expected += conv_params(96, 1, k=1, norm=False)
    assert sum(p.numel() for p in model.parameters()) == expected == 7_320_609


@pytest.mark.parametrize("width", [0.125, 0.5])
def test_pci_width_scales_every_convolution(width: float) -> None:
    model = PairedCellInpainting(width)
    shapes = output_shapes(
        model,
        ["source.conv3", "target.conv3", "decoder.out"],
        torch.zeros(1, 2, 64, 64),
        torch.zeros(1, 1, 64, 64),
    )
    assert shapes == {
        "source.conv3": (round(384 * width), 16, 16),
        "target.conv3": (round(32 * width), 16, 16),
        "decoder.out": (1, 64, 64),
    }
