"""Provenance lines that every chapter, table and figure carries."""

from __future__ import annotations

from coos_utils.data import CoosSplit
from coos_utils.profiles import get_profile


def provenance(split: CoosSplit, profile: str) -> str:
    """One Markdown sentence: which data (real or SYNTHETIC) and which profile."""
    kind = "simulated, so its numbers are not the paper's" if split.is_synthetic else "real data"
    return (
        f"**Data:** {split.data_label} ({kind}). "
        f"**Profile:** `{profile}`: {get_profile(profile).description}."
    )


def short_provenance(split: CoosSplit, profile: str) -> str:
    """A compact label for figure titles and table captions."""
    return f"{split.data_label}, profile {profile}"
