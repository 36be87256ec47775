"""A fixture for torch tests: one CPU thread.

The networks under test are tiny, and the test machines' cores are shared: two OpenMP
threads that wait for each other on a busy machine were measured 50x slower than one.
Import ``one_torch_thread`` into a test module to use it there.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
