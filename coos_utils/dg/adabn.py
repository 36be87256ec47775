"""Exact whole-set batch-norm statistics for test-time adaptation (AdaBN, Li et al. 2016).

AdaBN replaces every batch-norm layer's training statistics by the mean and variance of the
layer's input over the whole target set. Averaging per-batch variances in file order is not
that: on a file stored in class order each batch holds one class, the within-batch variances
miss the spread between classes, and the estimate depends on the order. Here the layers are
adapted one after the other, in the order the network runs them: with the layers before it
already adapted, one pass over the target set gives a layer's exact sums of its inputs and of
their squares per channel (a forward hook; nothing after the layer matters for it, so the
pass stops there), from which its mean and unbiased variance follow (torch stores the
unbiased variance). One pass per layer is the price of exactness; every layer, the
classifier's included, is adapted.

When the network is a plain chain of modules (nested ``nn.Sequential`` containers, as
DeepLoc's featurizer and classifier are; :func:`module_chain`), a pass need not start from
the images: the inputs of the layer just adapted are kept, batch by batch, and the next pass
runs only the modules between the two layers on them, so the whole adaptation costs about one
forward pass instead of one per layer. What is kept is capped at ``cache_bytes``
(:data:`CACHE_BYTES`); a layer whose inputs over the target set would need more is reached by
a pass from the images, as without a chain. Each layer sees the same tensors, batch by batch
in the same order, either way, so the statistics are the same to the bit.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

CACHE_BYTES = 1 << 30
"""At most this many bytes of one layer's inputs over the target set are kept between passes."""

Batches = Sequence[torch.Tensor] | Callable[[], Iterable[torch.Tensor]]
"""The target images: a sequence of batches, or a function that yields them afresh each time."""


def _each(batches: Batches) -> Iterable[torch.Tensor]:
    return batches() if callable(batches) else batches


class _Seen(Exception):
    """Raised by a layer's hook once it has seen its input: the rest of the pass is not needed."""


class _Moments:
    """Per-channel count, sum and sum of squares of a batch-norm layer's inputs (float64);
    with ``stop``, each call ends the forward pass (:class:`_Seen`) once it has counted."""

    def __init__(self, stop: bool = False) -> None:
        self.count = 0
        self.total: torch.Tensor | float = 0.0
        self.squares: torch.Tensor | float = 0.0
        self.stop = stop

    def __call__(self, module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].detach().double()
        dims = [d for d in range(x.dim()) if d != 1]  # every dimension but the channels
        self.count += x.numel() // x.shape[1]
        self.total = self.total + x.sum(dims)
        self.squares = self.squares + x.pow(2).sum(dims)
        if self.stop:
            raise _Seen

    def mean_and_variance(self) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.total / self.count
        biased = (self.squares / self.count - mean.pow(2)).clamp_min(0.0)
        return mean, biased * self.count / max(self.count - 1, 1)


def _run_all(forward: Callable[[torch.Tensor], torch.Tensor], batches: Batches) -> None:
    with torch.no_grad():
        for x in _each(batches):
            with contextlib.suppress(_Seen):
                forward(x)


def whole_set_moments(
    forward: Callable[[torch.Tensor], torch.Tensor],
    layer: nn.Module,
    batches: Batches,
    stop: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased variance per channel of ``layer``'s input over all ``batches``;
    with ``stop``, each pass ends at ``layer`` (for a layer that a pass runs only once)."""
    moments = _Moments(stop)
    handle = layer.register_forward_pre_hook(moments)
    try:
        _run_all(forward, batches)
    finally:
        handle.remove()
    if moments.count == 0:
        raise ValueError("adaptation needs at least one batch of images")
    return moments.mean_and_variance()


def run_calls(
    forward: Callable[[torch.Tensor], torch.Tensor], norms: Sequence[nn.Module], x: torch.Tensor
) -> list[nn.Module]:
    """The calls of ``norms`` in a forward pass of ``x``, in order (a layer run twice: twice)."""
    calls: list[nn.Module] = []
    handles = [m.register_forward_pre_hook(lambda m, _: calls.append(m)) for m in norms]
    try:
        with torch.no_grad():
            forward(x)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def module_chain(*modules: nn.Module) -> list[nn.Module] | None:
    """The modules that running ``modules`` one after the other runs, in order, with every
    plain ``nn.Sequential`` (not a subclass, whose ``forward`` may differ) opened up; ``None``
    when a module appears twice (a chain could not say which call is meant)."""
    chain: list[nn.Module] = []
    for module in modules:
        if type(module) is nn.Sequential:
            inner = module_chain(*module)
            if inner is None:
                return None
            chain.extend(inner)
        else:
            chain.append(module)
    return chain if len({id(m) for m in chain}) == len(chain) else None


def _run(chain: Sequence[nn.Module], x: torch.Tensor) -> torch.Tensor:
    for module in chain:
        x = module(x)
    return x


def _set_statistics(layer: _BatchNorm, mean: torch.Tensor, variance: torch.Tensor) -> None:
    layer.running_mean.copy_(mean.to(layer.running_mean.dtype))
    layer.running_var.copy_(variance.to(layer.running_var.dtype))
    if layer.num_batches_tracked is not None:
        layer.num_batches_tracked.zero_()


def _consume(kept: list[torch.Tensor]) -> Iterator[torch.Tensor]:
    """The kept batches in order, each let go of once it has been handed out."""
    for i in range(len(kept)):
        x, kept[i] = kept[i], None
        yield x


def _adapt_along(
    chain: Sequence[nn.Module], layers: Sequence[_BatchNorm], batches: Batches, cache_bytes: int
) -> None:
    """Adapt ``layers`` (in chain order), each pass starting from the inputs kept by the pass
    before (the images when none were kept) and keeping its layer's inputs if they fit."""
    kept: list[torch.Tensor] | None = None
    start = 0
    with torch.no_grad():
        for layer in layers:
            stop = chain.index(layer)
            source = _consume(kept) if kept is not None else _each(batches)
            modules = chain[start if kept is not None else 0 : stop]
            moments, kept, held = _Moments(), [], 0
            for x in source:
                y = _run(modules, x)
                moments(layer, (y,))
                held += y.numel() * y.element_size()
                if kept is not None and held <= cache_bytes:
                    kept.append(y)
                else:
                    kept = None
            if moments.count == 0:
                raise ValueError("adaptation needs at least one batch of images")
            _set_statistics(layer, *moments.mean_and_variance())
            start = stop


def _runs_in_order(chain: Sequence[nn.Module], calls: Sequence[nn.Module]) -> bool:
    """Whether each layer of ``calls`` (the order a pass runs them) is a module of ``chain``,
    run once, in the chain's order."""
    where = {id(m): i for i, m in enumerate(chain)}
    positions = [where.get(id(layer), -1) for layer in calls]
    return min(positions, default=0) >= 0 and positions == sorted(set(positions))


def _chain_matches(
    forward: Callable[[torch.Tensor], torch.Tensor], chain: Sequence[nn.Module], x: torch.Tensor
) -> bool:
    """Whether running ``chain`` gives exactly what ``forward`` gives on ``x``."""
    with torch.no_grad():
        return torch.equal(_run(chain, x), forward(x))


def adapt_batch_norms(
    forward: Callable[[torch.Tensor], torch.Tensor],
    norms: Sequence[_BatchNorm],
    batches: Batches,
    chain: Sequence[nn.Module] | None = None,
    cache_bytes: int = CACHE_BYTES,
) -> None:
    """Set every layer of ``norms`` to the exact mean and unbiased variance of its input over
    all ``batches``, layer after layer in the order the network runs them, each with the
    layers before it already adapted.

    ``forward`` must run the network in evaluation mode (batch norm using running statistics).
    ``chain``: the modules ``forward`` runs one after the other (:func:`module_chain`), if it
    is such a chain; it is used (see the module docstring) when the layers of ``norms`` that
    a pass runs are modules of it, each run once and in its order, and it gives exactly what
    ``forward`` gives on the first batch.
    """
    first = next(iter(_each(batches)), None)
    if first is None:
        raise ValueError("adaptation needs at least one batch of images")
    calls = run_calls(forward, norms, first)
    layers = list(dict.fromkeys(calls))
    if chain is not None and _runs_in_order(chain, calls) and _chain_matches(forward, chain, first):
        _adapt_along(chain, layers, batches, cache_bytes)
        return
    for layer in layers:
        once = calls.count(layer) == 1  # a layer run twice a pass sees its second input too
        _set_statistics(layer, *whole_set_moments(forward, layer, batches, stop=once))
