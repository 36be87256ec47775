"""The hyperparameter table: defaults in draw 0, draws keyed by (draw, name) only."""

from __future__ import annotations

from coos_utils.dg.algorithms import ALGORITHMS
from coos_utils.dg.hparams import HPARAMS, HParam, draw_hparams


def test_draw_zero_is_the_defaults_and_every_method_has_lr() -> None:
    for method in ALGORITHMS:
        hparams = draw_hparams(method, 0)
        assert hparams["lr"] == 1e-3
        defaults = {p.name: p.default for p in HPARAMS if p.applies_to(method)}
        assert hparams == defaults


def test_table_names_only_registered_methods_and_each_name_once() -> None:
    names = [p.name for p in HPARAMS]
    assert len(names) == len(set(names))
    for p in HPARAMS:
        assert p.methods is None or set(p.methods) <= set(ALGORITHMS)


def test_draws_are_reproducible_differ_between_draws_and_are_shared_between_methods() -> None:
    one = draw_hparams("CORAL", 1)
    assert one == draw_hparams("CORAL", 1)
    assert one != draw_hparams("CORAL", 2)
    assert one["lr"] == draw_hparams("ERM", 1)["lr"]
    assert 10**-4 <= one["lr"] <= 10**-2.5
    assert set(draw_hparams("MixStyle", 3)) == {
        "lr",
        "weight_decay",
        "mixstyle_p",
        "mixstyle_alpha",
        "mixstyle_layers",
    }


def test_adding_a_hyperparameter_does_not_change_the_other_draws() -> None:
    extended = (HParam("new_knob", 0.5, lambda rng: float(rng.uniform())), *HPARAMS)
    for draw in range(1, 6):
        before = draw_hparams("ContriMix", draw)
        after = draw_hparams("ContriMix", draw, table=extended)
        assert {k: v for k, v in after.items() if k != "new_knob"} == before
