"""Shared fixtures: the real datasets in ../shared/data (tests skip with a reason when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SYNTHCL_SHARED_DATA", ROOT.parent / "shared" / "data"))

torch.set_num_threads(min(2, torch.get_num_threads()))
os.environ.setdefault("SYNTHCL_PROGRESS", "0")


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep caches (decoded datasets, GPNN sets) out of the user's ~/.cache during tests."""
    old = os.environ.get("SYNTHCL_CACHE")
    os.environ["SYNTHCL_CACHE"] = str(tmp_path_factory.mktemp("synthcl-cache"))
    yield
    if old is None:
        os.environ.pop("SYNTHCL_CACHE", None)
    else:
        os.environ["SYNTHCL_CACHE"] = old


def shared_path(*parts: str) -> Path:
    """Path under ../shared/data, skipping the calling test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data {path} is absent (set SYNTHCL_SHARED_DATA to its folder)")
    return path


@pytest.fixture
def pneumonia_npz() -> Path:
    return shared_path("pneumoniamnist", "pneumoniamnist.npz")


@pytest.fixture
def pcam_dir() -> Path:
    return shared_path("pcam")


@pytest.fixture
def solar_json() -> Path:
    return shared_path("infrared_solar_modules", "module_metadata.json")


@pytest.fixture
def dr_dir() -> Path:
    return shared_path("dr_mini")


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
