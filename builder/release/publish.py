"""Push a release folder to a Hub dataset repo as one commit on ``main``, tagged ``vX.Y.Z``.

Why it is shaped this way:

- **One commit per version.** LFS objects are uploaded first (``preupload_lfs_files``, in batches, with
  progress), then a single ``create_commit`` adds/updates every file and deletes the previous version's stale
  shards. ``main`` therefore never shows a half-published mix of old and new shards, and the tag points at a
  commit that holds exactly this release.
- **Re-runnable.** Files whose remote content already matches (LFS sha256, or git blob id for regular files)
  are not part of the commit; LFS objects uploaded by an interrupted run are answered "already stored" by the
  LFS batch endpoint, so they are not sent again. Re-running the same command finishes the job.
- **Immutable, semantic versions.** Token, tag and version order are checked before the build
  (``hub_checks.preflight``); the built release is compared with every published version before anything is
  uploaded (``versioning``: an id never names other pixels; removals and evaluation-split changes need a major
  version). An existing ``vX.Y.Z`` is never moved. ``parent_commit`` makes the commit fail rather than silently
  race another publisher; a failure after the commit and before the tag says what ``main`` holds and how to finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from inpaintbench.digests import sha256_file
from inpaintbench.folders import ReleaseFolderError, read_release_summary

from .hub_checks import HubCheckError, PublishedVersions, preflight
from .index import INDEX_PATH, read_index
from .versioning import ReleaseFacts, VersionError, check_version, parse_version

# Paths a release owns in the repo: files there that the new release lacks are deleted by the publish commit.
RELEASE_OWNED_PREFIXES = ("data/", "images/", "index/")
PREUPLOAD_BATCH = 32


class PublishError(RuntimeError):
    """Publishing cannot (or did not) complete; the message says what to do."""


class PublishRefused(PublishError):
    """What was asked cannot be published (a version that exists or does not follow the published ones, a folder
    built for another repo or version): bad input, not a failure of the Hub (``inpaintbench publish`` exits 2)."""


@dataclass
class PublishResult:
    repo_id: str
    tag: str
    commit: str
    uploaded: list[str] = field(default_factory=list)  # paths committed (new or changed)
    unchanged: list[str] = field(default_factory=list)  # paths already on the Hub with the same content
    deleted: list[str] = field(default_factory=list)  # stale paths of a previous version


def version_tag(version: str) -> str:
    try:
        parse_version(version)
    except VersionError as exc:
        raise PublishRefused(str(exc)) from None
    return f"v{version}"


def _git_blob_id(path: Path) -> str:
    from huggingface_hub.utils.sha import git_hash

    return git_hash(path.read_bytes())


def _same_content(remote, local: Path) -> bool:
    """``remote`` is a RepoFile. LFS files compare by sha256, regular ones by git blob id."""
    if remote.lfs is not None:
        return remote.lfs.sha256 == sha256_file(local) and remote.lfs.size == local.stat().st_size
    return remote.blob_id == _git_blob_id(local)


def check_release_version(release_dir: Path, published: PublishedVersions) -> None:
    """The release's version against the latest published one (``builder.release.versioning``)."""
    if published.latest is None:
        return
    try:
        summary = read_release_summary(release_dir)
    except ReleaseFolderError as exc:
        raise PublishRefused(str(exc)) from None
    index_path = release_dir / INDEX_PATH
    index = read_index(index_path) if index_path.is_file() else None
    check_version(published.latest, ReleaseFacts.from_summary(summary, index), published.indexes, published.repo_id)


def _check_release_matches(release_dir: Path, repo_id: str, version: str) -> None:
    """The card names the repo and version in its loading instructions: never push a folder built for others."""
    try:
        summary = read_release_summary(release_dir)
    except ReleaseFolderError as exc:
        raise PublishRefused(f"{exc}; build the release with inpaintbench publish") from None
    if summary.get("version") != version or summary.get("repo_id") != repo_id:
        raise PublishRefused(
            f"{release_dir}: built for {summary.get('repo_id') or '(no repo)'} v{summary.get('version')}, not "
            f"{repo_id} v{version}; its card would name the wrong repo or version. "
            "Rebuild it for this repo and version."
        )


def local_release_files(release_dir: Path) -> list[str]:
    files = sorted(p.relative_to(release_dir).as_posix() for p in release_dir.rglob("*") if p.is_file())
    if "README.md" not in files or not any(f.startswith("data/") for f in files):
        raise PublishRefused(f"{release_dir}: not a release folder (needs README.md and data/)")
    return files


def publish_release(
    release_dir: str | Path,
    repo_id: str,
    version: str,
    *,
    api=None,
    private: bool = False,
    preupload_batch: int = PREUPLOAD_BATCH,
    published: PublishedVersions | None = None,
) -> PublishResult:
    """``published``: what ``hub_checks.preflight`` read before the build; read again (and re-checked) if None."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.hf_api import RepoFile

    release_dir = Path(release_dir)
    tag = version_tag(version)
    files = local_release_files(release_dir)
    _check_release_matches(release_dir, repo_id, version)
    api = api or HfApi()

    try:
        published = published or preflight(api, repo_id, version)
        check_release_version(release_dir, published)
    except (HubCheckError, VersionError) as exc:
        raise PublishRefused(str(exc)) from None
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True, private=private)
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    if tag in {t.name for t in refs.tags}:  # tagged by someone else since the preflight
        raise PublishError(f"{repo_id}: tag {tag} was created while this release was being built; it is not moved")
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
    try:
        api.create_tag(repo_id, tag=tag, revision=result.commit, repo_type="dataset", tag_message=f"InpaintBench {tag}")
    except HfHubHTTPError as exc:
        raise PublishError(
            f"{repo_id}: the files of {tag} are committed but the tag could not be created "
            f"({exc.__class__.__name__}: {str(exc).splitlines()[0]}). `main` now holds exactly this release at commit "
            f"{result.commit[:12]}, untagged: `load_dataset({repo_id!r})` already serves it, `revision={tag!r}` does "
            "not exist yet. Re-run the same command to finish: every file matches, so nothing is uploaded again and "
            "only the tag is created."
        ) from exc
    return result
