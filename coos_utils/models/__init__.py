"""The torch networks of Table 3 -- DeepLoc, VGG16, paired cell inpainting -- and their
shared machinery (device and seeds, on-device data and augmentation, the training loop with
checkpoints, activation extraction, pretrained weights).

The three representations implement :class:`coos_utils.features.base.Representation` and are
registered by name (with the texture features) in :mod:`coos_utils.benchmark.representations`:

* :class:`DeepLocRepresentation` (``"deeploc"``, learns, also a ``DirectPredictor``);
* :class:`Vgg16Representation` (``"vgg16"``, fixed ImageNet weights);
* :class:`PciRepresentation` (``"pci"``, learns without labels).
"""

from coos_utils.models.checkpoints import best_iteration
from coos_utils.models.deeploc import DeepLoc, DeepLocRepresentation
from coos_utils.models.extract import extract, pool
from coos_utils.models.pairs import GroupPartners, pairing_groups
from coos_utils.models.pci import PairedCellInpainting, PciRepresentation
from coos_utils.models.runtime import resolve_device, seed_everything
from coos_utils.models.training import TrainingOutcome, TrainingPlan, TrainingTask, train
from coos_utils.models.vgg import CONV_LAYERS, VGG16, Vgg16Representation, vgg16
from coos_utils.models.weights import (
    MissingWeightsError,
    WeightsError,
    download_weights,
    imagenet_weights_path,
)

__all__ = [
    "CONV_LAYERS",
    "VGG16",
    "DeepLoc",
    "DeepLocRepresentation",
    "GroupPartners",
    "MissingWeightsError",
    "PairedCellInpainting",
    "PciRepresentation",
    "TrainingOutcome",
    "TrainingPlan",
    "TrainingTask",
    "Vgg16Representation",
    "WeightsError",
    "best_iteration",
    "download_weights",
    "extract",
    "imagenet_weights_path",
    "pairing_groups",
    "pool",
    "resolve_device",
    "seed_everything",
    "train",
    "vgg16",
]
