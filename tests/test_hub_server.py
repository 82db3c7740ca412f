"""tests/helpers/hub_server.py on its own: what the round-trip tests rely on but do not look at directly (history,
pagination, byte ranges, error codes), through the real ``huggingface_hub`` client (endpoint passed explicitly,
so no env is needed in this process) and plain HTTP."""

from __future__ import annotations

import io

import httpx
import pytest

from tests.helpers.hub_server import VALID_TOKEN, HubServer

REPO = "inpaintbench-org/server-check"


@pytest.fixture
def hub(tmp_path):
    with HubServer(tmp_path, page_size=3) as server:
        yield server


@pytest.fixture
def api(hub):
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub.endpoint, token=VALID_TOKEN)


def commit_files(api, files: dict, message: str) -> str:
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=data) for p, data in files.items()]
    return api.create_commit(REPO, repo_type="dataset", operations=ops, commit_message=message).oid


def test_tags_keep_old_content_and_trees_paginate(hub, api):
    api.create_repo(REPO, repo_type="dataset")
    first = commit_files(api, {f"docs/{i}.txt": f"v1 {i}".encode() for i in range(7)}, "one")
    api.create_tag(REPO, repo_type="dataset", tag="v1.0.0", revision=first)
    commit_files(api, {"docs/0.txt": b"v2 0", "top.md": b"# hi"}, "two")

    old = api.list_repo_tree(REPO, repo_type="dataset", revision="v1.0.0", path_in_repo="docs")
    assert sorted(f.path for f in old) == [f"docs/{i}.txt" for i in range(7)]  # 7 entries over pages of 3
    everything = {f.path for f in api.list_repo_tree(REPO, repo_type="dataset", recursive=True)}
    assert {"docs", "top.md", ".gitattributes", "docs/6.txt"} <= everything
    url = f"{hub.endpoint}/datasets/{REPO}/resolve/v1.0.0/docs/0.txt"
    assert httpx.get(url).content == b"v1 0"
    assert httpx.get(url.replace("v1.0.0", "main")).content == b"v2 0"

    info = api.get_paths_info(
        REPO, ["docs/0.txt", "docs", "missing"], repo_type="dataset", revision="v1.0.0", expand=True
    )
    assert [type(i).__name__ for i in info] == ["RepoFile", "RepoFolder"]
    assert info[0].last_commit.oid == first

    with pytest.raises(Exception) as err:
        api.create_tag(REPO, repo_type="dataset", tag="v1.0.0")
    assert "409" in str(err.value)
    api.create_branch(REPO, repo_type="dataset", branch="frozen", revision=first)
    refs = api.list_repo_refs(REPO, repo_type="dataset")
    assert {b.name: b.target_commit for b in refs.branches}["frozen"] == first
    assert hub.state.unhandled == []


def test_resolve_headers_ranges_and_errors(hub, api):
    api.create_repo(REPO, repo_type="dataset")
    data = bytes(range(256)) * 4
    # *.bin is LFS. A file object (not bytes) makes huggingface_hub use the LFS batch API instead of Xet even with
    # hf_xet installed and HF_HUB_DISABLE_XET unset in this process.
    commit = commit_files(api, {"blob.bin": io.BytesIO(data)}, "bin")
    url = f"{hub.endpoint}/datasets/{REPO}/resolve/main/blob.bin"

    head = httpx.head(url)
    assert head.status_code == 200 and head.headers["X-Repo-Commit"] == commit
    assert head.headers["X-Linked-Size"] == str(len(data)) and head.headers["Content-Length"] == str(len(data))
    assert len(hub.lfs_uploads) == 1 and head.headers["X-Linked-Etag"].strip('"') == hub.lfs_uploads[0]

    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert (
        part.status_code == 206
        and part.content == data[10:20]
        and part.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    )
    assert httpx.get(url, headers={"Range": "bytes=-8"}).content == data[-8:]
    assert httpx.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416

    missing = httpx.get(url.replace("blob.bin", "nope.bin"))
    assert missing.status_code == 404 and missing.headers["X-Error-Code"] == "EntryNotFound"
    assert httpx.get(url.replace("/main/", "/v9.9.9/")).headers["X-Error-Code"] == "RevisionNotFound"
    assert httpx.get(f"{hub.endpoint}/api/datasets/nobody/nothing").headers["X-Error-Code"] == "RepoNotFound"
    assert httpx.get(f"{hub.endpoint}/api/not-a-route").status_code == 404
    assert hub.state.unhandled == ["GET /api/not-a-route"]


def test_a_token_the_server_does_not_know_gets_401(hub):
    """Like the Hub: publish's "the token is wrong" message (builder/release/hub_checks.py) is tested against this."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    assert HfApi(endpoint=hub.endpoint, token=VALID_TOKEN).whoami()["name"]
    with pytest.raises(HfHubHTTPError) as error:
        HfApi(endpoint=hub.endpoint, token="hf_wrong").whoami()
    assert error.value.response.status_code == 401
