"""coos_utils: the runnable edition of the COOS-7 benchmark (Lu et al., NeurIPS 2019)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("coos-utils")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
