"""A DG method from outside the package: V-REx (Krueger et al. 2021), written as a plug-in.

The chapter "Benchmark your own model" names it as ``notebooks/my_dg_method.py:VREx``; the
sweep loads this file in each worker process, trains and selects it exactly as the built-in
methods, and reruns its trials whenever this file changes. A plug-in is a subclass of
``coos_utils.dg.algorithms.Algorithm`` with DomainBed's interface: ``update(minibatches)``
(one ``(x, y)`` minibatch per training domain, here per plate) returning its losses, and
``predict(x)`` (inherited: the classifier on the featurizer). Its own hyperparameters are
declared in ``HPARAMS`` as (name, default, random draw); the shared ones (``lr``,
``weight_decay``) come from the package's table. A method that needs two or more training
domains says so (``needs_domains = True``, as CORAL does): on data without plate ids the
sweep then records it as "not run" instead of training it as plain ERM under another name.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from coos_utils.dg.algorithms import Algorithm
from coos_utils.dg.hparams import HParam


class VREx(Algorithm):
    """Risk extrapolation: the mean of the per-domain losses plus ``vrex_lambda`` times their
    variance; the weight is 1 for the first ``vrex_penalty_anneal_iters`` steps, and Adam
    starts afresh when it jumps (as in DomainBed). With one domain the variance is 0 and
    V-REx is ERM, so it needs domains."""

    needs_domains = True
    HPARAMS = (
        HParam("vrex_lambda", 10.0, lambda rng: float(10 ** rng.uniform(-1, 5))),
        HParam("vrex_penalty_anneal_iters", 500, lambda rng: int(10 ** rng.uniform(0, 4))),
    )

    def __init__(self, task, hparams, backbone) -> None:
        super().__init__(task, hparams, backbone)
        self.register_buffer("update_count", torch.tensor(0))

    def update(self, minibatches):
        anneal = self.hparams["vrex_penalty_anneal_iters"]
        weight = self.hparams["vrex_lambda"] if self.update_count >= anneal else 1.0
        logits = self.predict(torch.cat([x for x, _ in minibatches]))
        sizes = [len(y) for _, y in minibatches]
        losses = torch.stack(
            [
                F.cross_entropy(part, y)
                for part, (_, y) in zip(logits.split(sizes), minibatches, strict=True)
            ]
        )
        mean = losses.mean()
        penalty = ((losses - mean) ** 2).mean()
        if int(self.update_count) == anneal:
            self._optimizer = None  # a fresh Adam for the larger penalty
        self._step(mean + weight * penalty)
        self.update_count += 1
        return {"loss": mean.item(), "vrex_penalty": penalty.item()}
