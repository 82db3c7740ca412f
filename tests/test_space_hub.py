"""The Space reads a Hub dataset repo at a revision, through the real clients, against tests/helpers/hub_server.py.

huggingface_hub and datasets read HF_ENDPOINT at import, so each client step runs in a fresh interpreter; the
server runs in this process.
"""

from __future__ import annotations

import pytest

from tests.helpers.hub_client import run_client
from tests.helpers.hub_server import HubServer
from tests.helpers.space_fixtures import write_release_folder

pytestmark = pytest.mark.slow  # fresh interpreters importing datasets, ~3 s each

REPO = "inpaintbench-org/space-data"


def test_space_reads_a_hub_repo_at_a_tag_after_main_moved_on(tmp_path):
    release = write_release_folder(tmp_path / "release")
    with HubServer(tmp_path / "hub") as server:
        run_client(
            server,
            tmp_path / "home",
            f"""
            import json
            from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
            api = HfApi()
            api.create_repo("{REPO}", repo_type="dataset")
            api.upload_folder(repo_id="{REPO}", repo_type="dataset", folder_path="{release}")
            api.create_tag("{REPO}", tag="v1.0", repo_type="dataset")
            # main moves on: the test split is dropped after v1.0 (its file and its README entry, one commit)
            test_entry = "  - split: test\\n    path: data/default/test-*\\n"
            readme = open("{release}/README.md").read().replace(test_entry, "")
            api.create_commit("{REPO}", repo_type="dataset", commit_message="drop test", operations=[
                CommitOperationDelete("data/default/test-00000-of-00001.parquet"),
                CommitOperationAdd("README.md", readme.encode()),
            ])
            print(json.dumps({{"ok": True}}))
        """,
        )
        loaded = run_client(
            server,
            tmp_path / "home",
            f"""
            import json
            from inpaintbench.space.config import SpaceConfig
            from inpaintbench.space.data import load_store
            out = {{}}
            for revision in ("v1.0",):
                store = load_store(SpaceConfig(data="{REPO}", revision=revision))
                out[str(revision)] = {{"splits": store.index["split"].value_counts().to_dict(),
                                       "description": store.description,
                                       "first": store.sample(0)["image"].size}}
            try:
                load_store(SpaceConfig(data="{REPO}", revision="v9.9"))
            except ValueError as exc:
                out["missing"] = str(exc)
            print(json.dumps(out))
        """,
        )
        # A fresh process per revision, as the Space has: one process reads one revision.
        main = run_client(
            server,
            tmp_path / "home",
            f"""
            import json
            from inpaintbench.space.config import SpaceConfig
            from inpaintbench.space.data import load_store
            store = load_store(SpaceConfig(data="{REPO}"))
            print(json.dumps({{"splits": store.index["split"].value_counts().to_dict()}}))
        """,
        )
    assert loaded["v1.0"]["splits"] == {"train": 9, "test": 3}
    assert loaded["v1.0"]["description"] == f"Hub dataset {REPO} @ v1.0"
    assert main["splits"] == {"train": 9}
    assert loaded["v1.0"]["first"] == [160, 120]
    assert loaded["missing"].startswith(f"Hub dataset '{REPO}' at revision v9.9:")
