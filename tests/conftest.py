"""Shared fixtures: small COOS-format files built in a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import write_coos_hdf5


@pytest.fixture(autouse=True, scope="session")
def _private_fingerprint_memo(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Fingerprint memos go to a folder of this test session, never to the user's ~/.cache
    (subprocesses such as papermill kernels inherit the variable)."""
    import os

    os.environ["COOS_CACHE_DIR"] = str(tmp_path_factory.mktemp("coos_cache"))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests' local HTTP servers are reached directly even where a proxy is configured."""
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def coos_file(tmp_path: Path) -> Callable[..., tuple[Path, np.ndarray, np.ndarray]]:
    """Factory: ``coos_file(name="COOS7_v1.1_test1.hdf5", n=50)`` -> (folder, images, labels)."""

    def make(name: str = "COOS7_v1.1_test1.hdf5", **kwargs) -> tuple[Path, np.ndarray, np.ndarray]:
        folder = tmp_path / "coos"
        images, labels = write_coos_hdf5(folder / name, **kwargs)
        return folder, images, labels

    return make


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic COOS-7 (five splits), generated once per test session."""
    from coos_utils.synthetic import ensure_synthetic

    return ensure_synthetic(tmp_path_factory.mktemp("synthetic"), "tiny", 0)
