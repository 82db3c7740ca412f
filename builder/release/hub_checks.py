"""What publish checks on the Hub, before anything is built and again before anything is uploaded.

``preflight`` runs first (``inpaintbench publish`` calls it before the local build, which can take hours on a real
build): the token is accepted, the tag does not exist yet, the version is after the latest release, and every
published version's ``release.json`` and sample index are read (``PublishedVersions``), so the version check
(``builder.release.versioning``) needs no second round trip once the release is built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from inpaintbench.folders import RELEASE_SUMMARY_NAME

from .index import INDEX_PATH, read_index
from .versioning import SEMVER, ReleaseFacts, VersionError, parse_version


class HubCheckError(RuntimeError):
    """The Hub says no (token, tag, version); the message says what to do."""


@dataclass
class PublishedVersions:
    repo_id: str
    exists: bool
    tags: dict[str, str] = field(default_factory=dict)  # tag -> commit
    latest_tag: str | None = None
    latest: ReleaseFacts | None = None  # None: no release of this tool published yet
    indexes: dict[str, pa.Table] = field(default_factory=dict)  # tag -> sample index, for every version that has one


def check_token(api) -> str:
    """The user name the token belongs to; a clear error when there is no token or the Hub rejects it."""
    from huggingface_hub.errors import HfHubHTTPError, LocalTokenNotFoundError

    try:
        return api.whoami()["name"]
    except LocalTokenNotFoundError:
        raise HubCheckError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access to the repo)"
        ) from None
    except HfHubHTTPError as exc:
        if exc.response is not None and exc.response.status_code == 401:
            raise HubCheckError(
                "the Hub rejected the token (401 Unauthorized): HF_TOKEN (or the token saved by `hf auth login`) is "
                "wrong, expired or revoked; create a new one with write access at https://huggingface.co/settings/tokens"
            ) from None
        raise


def _semver_tags(tags: dict[str, str]) -> list[tuple[tuple[int, int, int], str]]:
    return sorted(
        (tuple(int(g) for g in m.groups()), t) for t in tags if t.startswith("v") and (m := SEMVER.match(t[1:]))
    )


def read_published(api, repo_id: str) -> PublishedVersions:
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError

    try:
        refs = api.list_repo_refs(repo_id, repo_type="dataset")
    except RepositoryNotFoundError:
        return PublishedVersions(repo_id, exists=False)
    published = PublishedVersions(repo_id, exists=True, tags={t.name: t.target_commit for t in refs.tags})
    for _, tag in _semver_tags(published.tags):
        try:
            summary = json.loads(
                Path(api.hf_hub_download(repo_id, RELEASE_SUMMARY_NAME, repo_type="dataset", revision=tag)).read_text()
            )
        except EntryNotFoundError:
            continue  # not published by this tool: nothing to compare with
        try:
            index = read_index(api.hf_hub_download(repo_id, INDEX_PATH, repo_type="dataset", revision=tag))
            published.indexes[tag] = index
        except EntryNotFoundError:
            index = None  # published before releases carried an index: columns, configs and splits are still compared
        published.latest_tag, published.latest = tag, ReleaseFacts.from_summary(summary, index)
    return published


def preflight(api, repo_id: str, version: str) -> PublishedVersions:
    """Token, tag and version order, checked before the local build."""
    check_token(api)
    published = read_published(api, repo_id)
    tag = f"v{version}"
    if tag in published.tags:
        raise HubCheckError(
            f"{repo_id}: tag {tag} already exists (commit {published.tags[tag][:12]}); published versions are "
            "immutable, so it is not moved. Publish a new version number instead."
        )
    released = _semver_tags(published.tags)
    if released and parse_version(version) <= released[-1][0]:
        raise VersionError(
            f"{repo_id}: version {version} is not after the latest release {released[-1][1]}; publish a higher version"
        )
    return published
