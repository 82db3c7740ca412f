"""Push a release folder to a Hub dataset repo as one commit on ``main``, tagged ``vX.Y.Z``.

Why it is shaped this way:

- **One commit per version.** LFS objects are uploaded first (``preupload_lfs_files``, in batches, with
  progress), then a single ``create_commit`` adds/updates every file and deletes the previous version's stale
  shards. ``main`` therefore never shows a half-published mix of old and new shards, and the tag points at a
  commit that holds exactly this release.
- **Re-runnable.** Files whose remote content already matches (LFS sha256, or git blob id for regular files)
  are not part of the commit; LFS objects uploaded by an interrupted run are answered "already stored" by the
  LFS batch endpoint, so they are not sent again. Re-running the same command finishes the job.
- **Immutable versions.** The tag is checked before anything is uploaded: an existing ``vX.Y.Z`` is never moved,
  versions only go up, and a split-rule change (samples would move between splits) needs a new major version.
  ``parent_commit`` makes the commit fail rather than silently race another publisher.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from ..shards import sha256_file

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
# Paths a release owns in the repo: files there that the new release lacks are deleted by the publish commit.
RELEASE_OWNED_PREFIXES = ("data/", "images/")
PREUPLOAD_BATCH = 32


class PublishError(RuntimeError):
    """Publishing cannot (or did not) complete; the message says what to do."""


@dataclass
class PublishResult:
    repo_id: str
    tag: str
    commit: str
    uploaded: list[str] = field(default_factory=list)  # paths committed (new or changed)
    unchanged: list[str] = field(default_factory=list)  # paths already on the Hub with the same content
    deleted: list[str] = field(default_factory=list)  # stale paths of a previous version


def version_tag(version: str) -> str:
    if not SEMVER.match(version):
        raise PublishError(f"version {version!r} is not MAJOR.MINOR.PATCH (e.g. 1.0.0)")
    return f"v{version}"


def _git_blob_id(path: Path) -> str:
    from huggingface_hub.utils.sha import git_hash

    return git_hash(path.read_bytes())


def _same_content(remote, local: Path) -> bool:
    """``remote`` is a RepoFile. LFS files compare by sha256, regular ones by git blob id."""
    if remote.lfs is not None:
        return remote.lfs.sha256 == sha256_file(local) and remote.lfs.size == local.stat().st_size
    return remote.blob_id == _git_blob_id(local)


def _semver(tag: str) -> tuple[int, int, int] | None:
    match = SEMVER.match(tag[1:]) if tag.startswith("v") else None
    return tuple(int(g) for g in match.groups()) if match else None


def _check_version_order(api, repo_id: str, version: str, tags: dict[str, str], release_dir: Path) -> None:
    """Versions only move forward, and a change of split rule (which moves samples between splits) needs a new
    major version: a paper's "v1.x test split" must mean the same photos in every v1.x."""
    import json

    from huggingface_hub.errors import EntryNotFoundError

    new = _semver(f"v{version}")
    released = sorted((v, t) for t in tags if (v := _semver(t)) is not None)
    if not released:
        return
    latest, latest_tag = released[-1]
    if new <= latest:
        raise PublishError(f"{repo_id}: version {version} is not after the latest release {latest_tag}; publish a higher version")
    if new[0] != latest[0]:
        return
    try:
        previous = json.loads(Path(api.hf_hub_download(repo_id, "release.json", repo_type="dataset", revision=latest_tag)).read_text())
    except EntryNotFoundError:
        return  # not published by this tool: nothing to compare
    current = json.loads((release_dir / "release.json").read_text())
    before, after = previous.get("split_config", {}).get("digest"), current.get("split_config", {}).get("digest")
    if before and after and before != after:
        raise PublishError(
            f"{repo_id}: the split config changed since {latest_tag} (digest {before} -> {after}), which moves samples "
            f"between splits; that needs a new major version ({latest[0] + 1}.0.0), not {version}"
        )


def _check_release_matches(release_dir: Path, repo_id: str, version: str) -> None:
    """The card names the repo and version in its loading instructions: never push a folder built for others."""
    import json

    summary_path = release_dir / "release.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise PublishError(f"{summary_path}: missing or unreadable ({exc}); build the release with inpaintbench publish") from None
    if summary.get("version") != version or summary.get("repo_id") != repo_id:
        raise PublishError(
            f"{release_dir}: built for {summary.get('repo_id') or '(no repo)'} v{summary.get('version')}, not {repo_id} "
            f"v{version}; its card would name the wrong repo or version. Rebuild it for this repo and version."
        )


def local_release_files(release_dir: Path) -> list[str]:
    files = sorted(p.relative_to(release_dir).as_posix() for p in release_dir.rglob("*") if p.is_file())
    if "README.md" not in files or not any(f.startswith("data/") for f in files):
        raise PublishError(f"{release_dir}: not a release folder (needs README.md and data/)")
    return files


def publish_release(
    release_dir: str | Path,
    repo_id: str,
    version: str,
    *,
    api=None,
    private: bool = False,
    preupload_batch: int = PREUPLOAD_BATCH,
) -> PublishResult:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.hf_api import RepoFile

    release_dir = Path(release_dir)
    tag = version_tag(version)
    files = local_release_files(release_dir)
    _check_release_matches(release_dir, repo_id, version)
    api = api or HfApi()

    api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    existing = {t.name: t.target_commit for t in refs.tags}
    if tag in existing:
        raise PublishError(
            f"{repo_id}: tag {tag} already exists (commit {existing[tag][:12]}); published versions are immutable, "
            f"so it is not moved. Publish a new version number instead."
        )
    _check_version_order(api, repo_id, version, existing, release_dir)
    heads = {b.name: b.target_commit for b in refs.branches}
    if "main" not in heads:
        raise PublishError(f"{repo_id}: has no 'main' branch to publish on")
    head = heads["main"]

    remote = {
        item.path: item
        for item in api.list_repo_tree(repo_id, repo_type="dataset", revision=head, recursive=True)
        if isinstance(item, RepoFile)
    }
    result = PublishResult(repo_id, tag, head)
    additions = []
    for rel in tqdm(files, desc=f"publish {tag}: comparing with the Hub", unit="file"):
        if rel in remote and _same_content(remote[rel], release_dir / rel):
            result.unchanged.append(rel)
        else:
            result.uploaded.append(rel)
            additions.append(CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(release_dir / rel)))
    local = set(files)
    result.deleted = sorted(p for p in remote if p.startswith(RELEASE_OWNED_PREFIXES) and p not in local)
    deletions = [CommitOperationDelete(path_in_repo=p) for p in result.deleted]

    if additions or deletions:
        try:
            with tqdm(total=len(additions), desc=f"publish {tag}: uploading", unit="file") as progress:
                for start in range(0, len(additions), preupload_batch):
                    batch = additions[start : start + preupload_batch]
                    api.preupload_lfs_files(repo_id, additions=batch, repo_type="dataset")
                    progress.update(len(batch))
            info = api.create_commit(
                repo_id,
                repo_type="dataset",
                operations=[*additions, *deletions],
                commit_message=f"InpaintBench {tag}",
                commit_description=f"{len(additions)} files added or changed, {len(deletions)} stale files removed.",
                parent_commit=head,
            )
        except HfHubHTTPError as exc:
            raise PublishError(
                f"{repo_id}: publishing {tag} was interrupted ({exc.__class__.__name__}: {str(exc).splitlines()[0]}). "
                "Nothing was tagged. Re-run the same command: files already uploaded are not sent again."
            ) from exc
        result.commit = info.oid
    api.create_tag(repo_id, tag=tag, revision=result.commit, repo_type="dataset", tag_message=f"InpaintBench {tag}")
    return result
