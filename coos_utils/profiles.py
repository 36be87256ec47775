"""The run profiles (smoke, default, paper): every size and iteration count in one table.

Notebooks take ``profile`` as a papermill parameter and read everything else from here, so
the book, the tests and the command line agree on what each profile means.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coos_utils.registry import lookup
from coos_utils.synthetic.params import SWITCHES


@dataclass(frozen=True)
class Profile:
    """Sizes of one run profile."""

    name: str
    description: str
    synthetic_scale: str
    rf_search_draws: int
    cv_folds: int
    bootstrap_samples: int
    representations: Sequence[str] = ("texture",)
    """The representations Table 3 is computed on (names in the feature registry)."""
    representation_params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per representation, the parameters this profile overrides (sizes, iterations)."""
    rf_top_outputs: int = 3
    """A representation with more outputs gets the forest search only on this many of them."""
    dg: Mapping[str, Any] = field(default_factory=dict)
    """The domain-generalisation chapter's sizes: methods, draws, seeds, steps, width, ablation;
    ``max_val_images`` caps the training-domain validation images a trial scores (test sets
    are always scored in full), ``max_shift_images`` the images per split of the shift
    measures (``None``: all)."""

    def to_record(self) -> dict[str, Any]:
        """Plain values for the provenance record."""
        record = asdict(self)
        record["representations"] = list(self.representations)
        record["dg"] = {
            k: list(v) if isinstance(v, BuiltinMethods) else v for k, v in self.dg.items()
        }
        return record


class BuiltinMethods(Sequence[str]):
    """The names of the built-in DG methods, read from their registry
    (:data:`coos_utils.dg.algorithms.ALGORITHMS`) when first used: the methods import torch,
    which reading a profile does not need. Behaves as a tuple of the names."""

    def _names(self) -> tuple[str, ...]:
        from coos_utils.dg.algorithms import ALGORITHMS

        return tuple(ALGORITHMS)

    def __getitem__(self, index: Any) -> Any:
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(self._names())

    def __repr__(self) -> str:
        return repr(self._names())


class BuiltinRepresentations(BuiltinMethods):
    """The names of the built-in representations, read from their registry
    (:data:`coos_utils.benchmark.representations.REPRESENTATIONS`) when first used: the CNNs
    import torch, which reading a profile does not need. Behaves as a tuple of the names."""

    def _names(self) -> tuple[str, ...]:
        from coos_utils.benchmark.representations import REPRESENTATIONS

        return tuple(REPRESENTATIONS)


ALL_REPRESENTATIONS = BuiltinRepresentations()
"""Every built-in representation (the registry's order)."""
PAPER_VGG_LAYERS = ("conv3_3", "conv4_1", "conv4_2")
"""The three VGG16 layers the paper reports; the CPU profiles extract only these (all 13 take
about three times as long on 2 cores), the paper profile every layer."""
DEFAULT_ABLATION = ("plate_effects", "border_effect", "test3_drift", "test4_microscope")
"""The shifts the default profile switches off in turn (all seven take about twice as long)."""
DG_METHODS = BuiltinMethods()
"""Every built-in DG method (the registry's order); a profile's ``dg["methods"]`` may also hold
plug-in specs (:mod:`coos_utils.plugins`)."""

PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        description="CI: shrunken searches, a few CNN iterations",
        synthetic_scale="tiny",
        rf_search_draws=3,
        cv_folds=2,
        bootstrap_samples=100,
        representations=ALL_REPRESENTATIONS,
        representation_params={
            "deeploc": {
                "iterations": 30,
                "batch_size": 32,
                "eval_every": 10,
                "width": 0.125,
                "learning_rate": 1e-3,
                "test_crops": 1,
            },
            "pci": {"iterations": 20, "batch_size": 16, "eval_every": 10, "width": 0.125},
            "vgg16": {"weights": "auto", "layers": ("conv3_3",)},
        },
        dg={
            "methods": DG_METHODS,
            "n_draws": 1,
            "seeds": (0, 1),
            "steps": 20,
            "batch_size": 32,
            "eval_every": 10,
            "width": 0.125,
            "max_val_images": 100,
            "max_shift_images": 100,
            "ablation_seeds": (0,),
            "ablation_switches": ("test4_microscope",),
            # ContriMix: 2 mixes per image, not the authors' 5 (a step: 10, not 20, x ERM's)
            "hparams_overrides": (("contrimix_mixings", 2),),
        },
    ),
    "default": Profile(
        name="default",
        description="a laptop without GPU: reduced searches and training",
        synthetic_scale="small",
        rf_search_draws=10,
        cv_folds=3,
        bootstrap_samples=500,
        representations=ALL_REPRESENTATIONS,
        # The CNNs' budgets, chosen from validation curves on the small synthetic train
        # (bench/bench_default_budget.py, torch on 2 CPU threads) so that each network trains
        # about 2-3 minutes and stops where its curve has levelled off. DeepLoc at width
        # 0.125, batch 64 (~0.12 s an iteration): balanced validation error 1.7% at 250
        # iterations (it stopped at 300 before), 0.6% at 500, 0.3% at 875, 0% from
        # 1,000, no better by 1,500. PCI at width 0.125, batch 32 (~0.16 s an iteration):
        # validation MSE 0.0200 at 184 (it stopped at 200 before, still falling), 0.0190 at
        # 368, 0.0184 at 644, 0.0177 at 1,012, 0.0178 at 1,100: 1,000 iterations (~10 epochs
        # of the fit set) fill the budget. Batch 64 does worse for the same images (0.0183
        # after 550) at twice the cost an iteration; width 0.25 learns faster an iteration
        # (0.0179 at 400) but costs ~1.7x as much, about a tie within the budget.
        # Both stay far short of the paper's protocol (DeepLoc 10,000 x 128 at full width,
        # PCI 30 epochs in batches of 64): the chapters mark their rows as cut short.
        # Each trains on one CPU thread (train_threads), so chapter 02 runs the two trainings
        # and VGG16's extractions side by side, one per core: these small networks make
        # poor use of a second thread (bench/bench_side_by_side.py), and one thread gives
        # the same weights on any CPU, whatever its number of cores.
        representation_params={
            "deeploc": {
                "iterations": 1000,
                "batch_size": 64,
                "eval_every": 100,
                "width": 0.125,
                "learning_rate": 1e-3,
                "test_crops": 1,
                "train_threads": 1,
            },
            "pci": {
                "iterations": 1000,
                "batch_size": 32,
                "eval_every": 100,
                "width": 0.125,
                "train_threads": 1,
            },
            "vgg16": {"weights": "auto", "layers": PAPER_VGG_LAYERS},
        },
        dg={
            "methods": DG_METHODS,
            "n_draws": 2,
            "seeds": (0, 1, 2),
            "steps": 120,
            "batch_size": 32,
            "eval_every": 40,
            "width": 0.125,
            "max_val_images": 300,
            "max_shift_images": 300,
            "ablation_seeds": (0,),
            "ablation_switches": DEFAULT_ABLATION,
            # ContriMix: 2 mixes per image, not the authors' 5 (a step: 10, not 20, x ERM's)
            "hparams_overrides": (("contrimix_mixings", 2),),
        },
    ),
    "paper": Profile(
        name="paper",
        description="the paper's full protocol (GPU expected for the CNNs)",
        synthetic_scale="paper",
        rf_search_draws=100,
        cv_folds=5,
        bootstrap_samples=1000,
        representations=ALL_REPRESENTATIONS,
        representation_params={"vgg16": {"weights": "auto"}},
        dg={
            "methods": DG_METHODS,
            "n_draws": 8,
            "seeds": (0, 1, 2, 3, 4),
            "steps": 5000,
            "batch_size": 128,
            "eval_every": 500,
            "width": 1.0,
            "max_val_images": None,
            "max_shift_images": None,
            "ablation_seeds": (0, 1, 2),
            "ablation_switches": SWITCHES,
        },
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``, or a clear error listing the valid names."""
    return lookup(PROFILES, name, "profile")


def default_data_root() -> Path:
    """Where generated synthetic data live unless a notebook is given ``data_dir``."""
    return Path.cwd() / "data"


def resolve_data_dir(
    data_dir: str | Path | None, profile: str, seed: int = 0, root: str | Path | None = None
) -> Path:
    """The folder a notebook reads: ``data_dir`` if given, else the profile's synthetic data.

    Synthetic data are generated on first use under ``root`` (default ``./data``) and reused
    afterwards; the real COOS-7 is used by passing its folder as ``data_dir``.
    """
    if data_dir:
        return Path(data_dir)
    from coos_utils.synthetic import ensure_synthetic

    base = Path(root) if root is not None else default_data_root() / "synthetic"
    return ensure_synthetic(base, get_profile(profile).synthetic_scale, seed)
