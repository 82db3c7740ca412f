"""Fixtures several test files share (helpers that are plain functions live in tests/helpers/):

- ``torch_one_thread`` (module): torch on one thread for a module's tests and its module fixtures, restored after.
  A file asks for it with ``pytestmark = pytest.mark.usefixtures("torch_one_thread")``.
- ``clean_coco_set``: three synthetic photos in COCO format under ``tmp_path/coco``, without the bad inputs
  (truncated and missing files, crowd and tiny objects): ``(images dir, annotations file)``.
- ``hub`` (module): a local Hugging Face Hub server (tests/helpers/hub_server.py) for a module's tests; a module
  that needs another page size defines its own ``hub``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.generate_fixtures import write_coco_set


@pytest.fixture(scope="module")
def torch_one_thread():
    # One thread: the machines the suite runs on are small and shared (two cores, other runs beside this one), and
    # torch's default of one thread per core makes every test fight every other process for them.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def clean_coco_set(tmp_path) -> tuple[Path, Path]:
    return write_coco_set(tmp_path / "coco", num_images=3, bad_inputs=False)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    from tests.helpers.hub_server import HubServer

    with HubServer(tmp_path_factory.mktemp("hub")) as server:
        yield server
