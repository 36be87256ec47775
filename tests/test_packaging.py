"""The project's own files agree with each other: conda list, pip list, reference tables."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

from coos_utils.reference import CLASS_NAMES, N_CLASSES, SPLITS, paper_table3

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {"torch": "pytorch"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!\[; ]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_yml_lists_every_pip_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for requirements in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in requirements if not r.startswith("coos-utils")}
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    listed = {_name(d) for d in conda if isinstance(d, str)}
    missing = {CONDA_NAMES.get(n, n) for n in wanted} - listed
    assert not missing, f"environment.yml lacks {sorted(missing)}"


def test_reference_tables_ship_with_the_package() -> None:
    assert N_CLASSES == 7 and CLASS_NAMES[2] == "Golgi" and CLASS_NAMES[3] == "Peroxisomes"
    assert [s.name for s in SPLITS] == ["train", "test1", "test2", "test3", "test4"]
    assert sum(s.images for s in SPLITS) == 132_209
    table = paper_table3()
    assert len(table) == 25 and table.loc[0, "features"] == "DeepLoc"


def test_version_floors_match_between_pip_and_conda() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    floors = {_name(d): d for d in conda if isinstance(d, str)}
    for requirement in project["dependencies"]:
        name = CONDA_NAMES.get(_name(requirement), _name(requirement))
        assert requirement.removeprefix(_name(requirement)) == floors[name].removeprefix(name), name


def test_license_is_an_spdx_expression() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
