"""A small, real Hugging Face Hub HTTP server for tests (stdlib only).

Why: the Hub cannot be reached from our machines, yet publish/load must be exercised through the *real*
``huggingface_hub`` and ``datasets`` clients, LFS uploads included. This server implements the endpoints those
clients call (found by running them against it and reading the 404s it logs), backed by a temp dir:

- git-like history per repo: every commit is an immutable ``{path: entry}`` snapshot with a parent, branches
  and tags point at commits, so ``revision="v1.0.0"`` keeps serving old content after ``main`` moves on;
- LFS "basic" transfer: batch -> PUT upload -> verify; objects already stored are answered without actions
  (which is how clients skip re-uploads), and every PUT is counted in ``HubServer.lfs_uploads``;
- resolve with HEAD, ETag / X-Linked-Etag, X-Repo-Commit and byte ranges (streaming reads Parquet footers);
- tree listing (recursive, cursor pagination via a Link header), paths-info, refs, tags, branches.

Fault injection (``fail_next_commits``, ``fail_next_tags``) simulates an interrupted publish: the server itself refuses
a commit, the client code path is untouched.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

USER = "inpaintbench-tester"
VALID_TOKEN = "hf_inpaintbench_fake_token"  # the token tests/helpers/hub_client.py's clients send; others get 401
ORGS = ("inpaintbench-org",)
REPO_TYPES = {"datasets": "dataset", "models": "model", "spaces": "space"}
# Files the real Hub stores as LFS by default (its initial .gitattributes); others are regular git blobs.
LFS_SUFFIXES = (".parquet", ".arrow", ".png", ".jpg", ".jpeg", ".bin", ".safetensors", ".zip", ".gz", ".tar")
REGULAR_MAX_BYTES = 10 * 1024 * 1024
INITIAL_GITATTRIBUTES = b"".join(f"*{s} filter=lfs diff=lfs merge=lfs -text\n".encode() for s in LFS_SUFFIXES)


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class Entry:
    """One file in a commit snapshot. ``sha256`` names its content in the blob store."""

    sha256: str
    size: int
    lfs: bool


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    date: str
    files: dict[str, Entry]
    git_oids: dict[str, str]  # path -> git blob id (regular files: sha1 of content)


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    lfs_objects: set[str] = field(default_factory=set)  # LFS storage is per repo, like the Hub's

    def resolve(self, revision: str) -> Commit | None:
        revision = unquote(revision)
        for table in (self.branches, self.tags):
            if revision in table:
                return self.commits[table[revision]]
        for prefix, table in (("refs/heads/", self.branches), ("refs/tags/", self.tags)):
            if revision.startswith(prefix) and revision[len(prefix) :] in table:
                return self.commits[table[revision[len(prefix) :]]]
        if re.fullmatch(r"[0-9a-f]{40}", revision) and revision in self.commits:
            return self.commits[revision]
        return None


class HubError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class HubState:
    """Repos, commits, refs and the content-addressed blob store. All mutations hold ``lock``."""

    def __init__(self, root: Path):
        self.root = root
        self.blobs = root / "blobs"
        self.blobs.mkdir(parents=True, exist_ok=True)
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lock = threading.RLock()
        self.lfs_uploads: list[str] = []  # sha256 of every completed LFS PUT, in order
        self.lfs_uploads_by_repo: dict[tuple[str, str], list[str]] = {}  # (repo type, repo id) -> the same, per repo
        self.commit_calls = 0
        self.fail_next_commits = 0
        self.fail_next_tags = 0
        self.valid_tokens = {VALID_TOKEN}
        self.unhandled: list[str] = []  # "METHOD path" of every request no route matched
        self._clock = 0

    # -- blobs --------------------------------------------------------------------------------------------
    def has_blob(self, sha256: str) -> bool:
        return (self.blobs / sha256).is_file()

    def put_blob(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        path = self.blobs / sha
        if not path.exists():
            tmp = path.with_suffix(f".tmp{threading.get_ident()}")
            tmp.write_bytes(data)
            tmp.replace(path)
        return sha

    def blob_path(self, sha256: str) -> Path:
        return self.blobs / sha256

    # -- repos ----------------------------------------------------------------------------------------------
    def get_repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            raise HubError(404, f"Repository {repo_type}/{repo_id} not found", "RepoNotFound")
        return repo

    def get_commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Invalid rev id: {unquote(revision)}", "RevisionNotFound")
        return commit

    def create_repo(self, repo_type: str, repo_id: str) -> Repo:
        with self.lock:
            if (repo_type, repo_id) in self.repos:
                raise HubError(409, "You already created this repo")
            repo = Repo(repo_type, repo_id)
            self.repos[(repo_type, repo_id)] = repo
            self.commit(repo, "main", None, "initial commit", {".gitattributes": INITIAL_GITATTRIBUTES}, {}, [])
            return repo

    def commit(
        self,
        repo: Repo,
        branch: str,
        parent_commit: str | None,
        title: str,
        regular: dict[str, bytes],
        lfs: dict[str, tuple[str, int]],
        deletions: list[tuple[str, bool]],
    ) -> Commit:
        with self.lock:
            head = repo.branches.get(branch)
            if head is None and repo.commits:
                raise HubError(404, f"Invalid rev id: {branch}", "RevisionNotFound")
            if parent_commit is not None and parent_commit != head:
                raise HubError(412, f"A commit has happened since. Please refresh and try again. ({head})")
            files = dict(repo.commits[head].files) if head else {}
            git_oids = dict(repo.commits[head].git_oids) if head else {}
            for path, is_folder in deletions:
                targets = [p for p in files if p == path or (is_folder and p.startswith(path.rstrip("/") + "/"))]
                if not targets:
                    raise HubError(404, f"File not found: {path}", "EntryNotFound")
                for p in targets:
                    files.pop(p)
                    git_oids.pop(p)
            for path, data in regular.items():
                files[path] = Entry(self.put_blob(data), len(data), lfs=False)
                git_oids[path] = git_blob_sha1(data)
            for path, (sha256, size) in lfs.items():
                if sha256 not in repo.lfs_objects:
                    raise HubError(422, f"LFS object {sha256} for {path} was never uploaded")
                files[path] = Entry(sha256, size, lfs=True)
                git_oids[path] = git_blob_sha1(lfs_pointer(sha256, size))
            self._clock += 1
            # Commit ids only need to be unique and stable for the server's lifetime.
            oid = hashlib.sha1(f"{repo.repo_id}\x00{head}\x00{title}\x00{self._clock}".encode()).hexdigest()
            date = datetime.fromtimestamp(1_700_000_000 + self._clock, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            commit = Commit(oid, head, title, date, files, git_oids)
            repo.commits[oid] = commit
            repo.branches[branch] = oid
            return commit

    def last_commit_touching(self, repo: Repo, commit: Commit, path: str) -> Commit:
        """The oldest ancestor in the run of commits where ``path`` (a file or folder prefix) is unchanged."""

        def view(c: Commit):
            return {p: e for p, e in c.files.items() if p == path or p.startswith(path + "/")}

        current, current_view = commit, view(commit)
        while current.parent is not None:
            parent = repo.commits[current.parent]
            if view(parent) != current_view:
                break
            current = parent
        return current


def tree_entries(commit: Commit, folder: str, recursive: bool) -> list[dict]:
    """Entries under ``folder`` ("" = root), folders before their contents, sorted by path like the Hub."""
    prefix = folder.rstrip("/") + "/" if folder else ""
    files: list[tuple[str, Entry]] = []
    folders: set[str] = set()
    for path, entry in commit.files.items():
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :]
        parts = rest.split("/")
        for depth in range(1, len(parts)):
            if recursive or depth == 1:
                folders.add(prefix + "/".join(parts[:depth]))
        if recursive or len(parts) == 1:
            files.append((path, entry))
    out = [folder_info(commit, f) for f in folders]
    out += [file_info(commit, p, e) for p, e in files]
    return sorted(out, key=lambda item: item["path"])


def file_info(commit: Commit, path: str, entry: Entry) -> dict:
    info = {"type": "file", "oid": commit.git_oids[path], "size": entry.size, "path": path}
    if entry.lfs:
        info["lfs"] = {
            "oid": entry.sha256,
            "size": entry.size,
            "pointerSize": len(lfs_pointer(entry.sha256, entry.size)),
        }
    return info


def folder_info(commit: Commit, folder: str) -> dict:
    children = sorted(f"{p}:{o}" for p, o in commit.git_oids.items() if p.startswith(folder + "/"))
    return {
        "type": "directory",
        "oid": hashlib.sha1("\n".join(children).encode()).hexdigest(),
        "size": 0,
        "path": folder,
    }


def commit_ref(commit: Commit) -> dict:
    return {"id": commit.oid, "title": commit.title, "date": commit.date}


# Route table: (method, regex, handler name). Repo ids are "ns/name" (or a bare name), revisions are one
# URL-quoted segment (clients quote "/" in revisions as %2F), paths may contain "/".
_REPO = r"(?P<kind>datasets|models|spaces)/(?P<repo>[^/]+/[^/]+|[^/]+)"
ROUTES = [
    ("GET", r"/api/whoami-v2", "whoami"),
    ("POST", r"/api/repos/create", "repo_create"),
    ("POST", r"/api/validate-yaml", "validate_yaml"),
    ("GET", rf"/api/{_REPO}/revision/(?P<rev>[^/]+)", "repo_info"),
    ("GET", rf"/api/{_REPO}/refs", "refs"),
    ("POST", rf"/api/{_REPO}/preupload/(?P<rev>[^/]+)", "preupload"),
    ("POST", rf"/api/{_REPO}/commit/(?P<rev>[^/]+)", "commit"),
    ("POST", rf"/api/{_REPO}/tag/(?P<rev>[^/]+)", "create_tag"),
    ("DELETE", rf"/api/{_REPO}/tag/(?P<tag>[^/]+)", "delete_tag"),
    ("POST", rf"/api/{_REPO}/branch/(?P<branch>[^/]+)", "create_branch"),
    ("GET", rf"/api/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?", "tree"),
    ("POST", rf"/api/{_REPO}/paths-info/(?P<rev>[^/]+)", "paths_info"),
    ("GET", rf"/api/{_REPO}/commits/(?P<rev>[^/]+)", "list_commits"),
    ("GET", rf"/api/{_REPO}", "repo_info"),
    ("POST", r"/(?:(?P<kind>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+?|[^/]+?)\.git/info/lfs/objects/batch", "lfs_batch"),
    ("PUT", rf"/lfs-objects/{_REPO}/(?P<oid>[0-9a-f]{{64}})", "lfs_put"),
    ("POST", rf"/lfs-verify/{_REPO}/(?P<oid>[0-9a-f]{{64}})", "lfs_verify"),
    ("GET", rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ("HEAD", rf"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ("GET", r"/(?P<repo>[^/]+/[^/]+|[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
    ("HEAD", r"/(?P<repo>[^/]+/[^/]+|[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", "resolve"),
]
ROUTES = [(m, re.compile(p + r"/?"), h) for m, p, h in ROUTES]


class HubRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real Hub; every reply sets Content-Length
    server: HubHTTPServer

    def log_message(self, format, *args):  # noqa: A002 - quiet: pytest would show it on every request
        pass

    # -- plumbing -------------------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        self._body = None  # one handler serves every request of a keep-alive connection
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        path = url.path
        state = self.server.state
        try:
            self._check_token()
            for route_method, pattern, handler in ROUTES:
                if route_method != method:
                    continue
                match = pattern.fullmatch(path)
                if match:
                    params = {k: v for k, v in match.groupdict().items() if v is not None}
                    kind = params.pop("kind", None)
                    self.repo_type = REPO_TYPES.get(kind or "models", "model")
                    getattr(self, f"h_{handler}")(**params)
                    return
            state.unhandled.append(f"{method} {self.path}")
            raise HubError(404, f"no route for {method} {path}")
        except HubError as err:
            self._read_body()  # drain, or keep-alive would read the body as the next request
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            self._send_json({"error": err.message}, status=err.status, headers=headers)

    def _check_token(self) -> None:
        """Like the Hub: a request that sends a token the server does not know is refused with 401."""
        header = self.headers.get("Authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        if token is not None and token not in self.server.state.valid_tokens:
            raise HubError(401, "Invalid credentials in Authorization header")

    do_GET = lambda self: self._dispatch("GET")  # noqa: E731
    do_HEAD = lambda self: self._dispatch("HEAD")  # noqa: E731
    do_POST = lambda self: self._dispatch("POST")  # noqa: E731
    do_PUT = lambda self: self._dispatch("PUT")  # noqa: E731
    do_DELETE = lambda self: self._dispatch("DELETE")  # noqa: E731

    def _read_body(self) -> bytes:
        if getattr(self, "_body", None) is not None:
            return self._body
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self._body = b"".join(chunks)
        else:
            self._body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        return self._body

    def _json_body(self) -> dict:
        body = self._read_body()
        try:
            return json.loads(body or b"{}")
        except json.JSONDecodeError as exc:
            raise HubError(400, f"invalid JSON body: {exc}") from None

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None, content_length=None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, payload, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})

    def _endpoint(self) -> str:
        return self.server.endpoint

    def _repo_url(self, repo: Repo) -> str:
        prefix = "" if repo.repo_type == "model" else f"{repo.repo_type}s/"
        return f"{self._endpoint()}/{prefix}{repo.repo_id}"

    def _repo(self, repo: str) -> Repo:
        return self.server.state.get_repo(self.repo_type, unquote(repo))

    # -- account / repos --------------------------------------------------------------------------------------
    def h_whoami(self) -> None:
        self._send_json(
            {
                "type": "user",
                "name": USER,
                "fullname": "InpaintBench tester",
                "orgs": [{"name": org, "type": "org"} for org in ORGS],
                "auth": {"type": "access_token", "accessToken": {"displayName": "tests", "role": "write"}},
            }
        )

    def h_repo_create(self) -> None:
        body = self._json_body()
        name, org = body.get("name"), body.get("organization")
        if not name:
            raise HubError(400, "repo name is required")
        repo_id = f"{org or USER}/{name}"
        repo_type = body.get("type") or "model"
        existing = self.server.state.repos.get((repo_type, repo_id))
        if existing is not None:  # like the Hub: 409, still naming the repo's url
            self._send_json({"error": "You already created this repo", "url": self._repo_url(existing)}, status=409)
            return
        repo = self.server.state.create_repo(repo_type, repo_id)
        self._send_json({"url": self._repo_url(repo), "name": repo_id, "id": repo_id})

    def h_validate_yaml(self) -> None:
        self._json_body()
        self._send_json({"errors": [], "warnings": []})

    def h_repo_info(self, repo: str, rev: str = "main") -> None:
        r = self._repo(repo)
        commit = self.server.state.get_commit(r, rev)
        self._send_json(
            {
                "id": r.repo_id,
                "author": r.repo_id.split("/")[0],
                "sha": commit.oid,
                "private": False,
                "gated": False,
                "disabled": False,
                "lastModified": commit.date,
                "createdAt": r.commits[next(iter(r.commits))].date,
                "tags": [],
                "downloads": 0,
                "likes": 0,
                "siblings": [{"rfilename": p} for p in sorted(commit.files)],
                "cardData": {},
            }
        )

    def h_refs(self, repo: str) -> None:
        r = self._repo(repo)

        def refs(table: dict[str, str], kind: str) -> list[dict]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": c} for n, c in sorted(table.items())]

        self._send_json(
            {"branches": refs(r.branches, "heads"), "tags": refs(r.tags, "tags"), "converts": [], "pullRequests": []}
        )

    def h_list_commits(self, repo: str, rev: str) -> None:
        r = self._repo(repo)
        commit = self.server.state.get_commit(r, rev)
        out = []
        while commit is not None:
            out.append(
                {
                    "id": commit.oid,
                    "title": commit.title,
                    "message": "",
                    "authors": [{"user": USER}],
                    "date": commit.date,
                }
            )
            commit = r.commits[commit.parent] if commit.parent else None
        self._send_json(out)

    def h_create_tag(self, repo: str, rev: str) -> None:
        r = self._repo(repo)
        body = self._json_body()
        tag = body.get("tag")
        state = self.server.state
        with state.lock:
            if state.fail_next_tags > 0:
                state.fail_next_tags -= 1
                raise HubError(500, "injected failure: tag refused (simulated interruption)")
            commit = state.get_commit(r, rev)
            if not tag:
                raise HubError(400, "tag name is required")
            if tag in r.tags:
                raise HubError(409, f"Tag {tag} already exists")
            r.tags[tag] = commit.oid
        self._send_json({"name": tag, "ref": f"refs/tags/{tag}", "targetCommit": commit.oid})

    def h_delete_tag(self, repo: str, tag: str) -> None:
        r = self._repo(repo)
        with self.server.state.lock:
            if r.tags.pop(unquote(tag), None) is None:
                raise HubError(404, f"Tag {unquote(tag)} not found", "RevisionNotFound")
        self._send_json({})

    def h_create_branch(self, repo: str, branch: str) -> None:
        r = self._repo(repo)
        body = self._json_body()
        branch = unquote(branch)
        state = self.server.state
        with state.lock:
            start = state.get_commit(r, body.get("startingPoint") or "main")
            if branch in r.branches:
                raise HubError(409, f"Branch {branch} already exists")
            r.branches[branch] = start.oid
        self._send_json({})

    # -- upload ----------------------------------------------------------------------------------------------
    def h_preupload(self, repo: str, rev: str) -> None:
        r = self._repo(repo)
        commit = self.server.state.get_commit(r, rev)
        files = []
        for f in self._json_body().get("files", []):
            path, size = f["path"], int(f["size"])
            lfs = path.lower().endswith(LFS_SUFFIXES) or size > REGULAR_MAX_BYTES
            existing = commit.files.get(path)
            # The client compares this oid with its own (sha256 for LFS, git sha1 for regular) to skip no-ops.
            oid = None if existing is None else (existing.sha256 if existing.lfs else commit.git_oids[path])
            files.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        self._send_json({"files": files, "commitOid": commit.oid})

    def h_lfs_batch(self, repo: str) -> None:
        r = self._repo(repo)
        base = f"{self.repo_type}s/{r.repo_id}"
        body = self._json_body()
        if body.get("operation") != "upload":
            raise HubError(400, "only uploads are supported")
        if "basic" not in body.get("transfers", ["basic"]):
            raise HubError(400, "only the basic transfer is supported")
        objects = []
        for obj in body.get("objects", []):
            oid, size = obj["oid"], int(obj["size"])
            if oid in r.lfs_objects:
                objects.append({"oid": oid, "size": size})  # no actions: already stored, client skips it
            else:
                objects.append(
                    {
                        "oid": oid,
                        "size": size,
                        "authenticated": True,
                        "actions": {
                            "upload": {"href": f"{self._endpoint()}/lfs-objects/{base}/{oid}", "header": {}},
                            "verify": {"href": f"{self._endpoint()}/lfs-verify/{base}/{oid}", "header": {}},
                        },
                    }
                )
        self._send_json(
            {"transfer": "basic", "objects": objects}, headers={"Content-Type": "application/vnd.git-lfs+json"}
        )

    def h_lfs_put(self, repo: str, oid: str) -> None:
        r = self._repo(repo)
        data = self._read_body()
        actual = hashlib.sha256(data).hexdigest()
        if actual != oid:
            raise HubError(400, f"sha256 mismatch: expected {oid}, got {actual}")
        state = self.server.state
        with state.lock:
            state.put_blob(data)
            r.lfs_objects.add(oid)
            state.lfs_uploads.append(oid)
            state.lfs_uploads_by_repo.setdefault((r.repo_type, r.repo_id), []).append(oid)
        self._send(200, b"")

    def h_lfs_verify(self, repo: str, oid: str) -> None:
        r = self._repo(repo)
        body = self._json_body()
        if oid not in r.lfs_objects:
            raise HubError(404, f"LFS object {oid} not found")
        if int(body.get("size", -1)) != self.server.state.blob_path(oid).stat().st_size:
            raise HubError(422, f"LFS object {oid} size mismatch")
        self._send_json({})

    def h_commit(self, repo: str, rev: str) -> None:
        r = self._repo(repo)
        state = self.server.state
        lines = [json.loads(line) for line in self._read_body().splitlines() if line.strip()]
        with state.lock:
            state.commit_calls += 1
            if state.fail_next_commits > 0:
                state.fail_next_commits -= 1
                raise HubError(500, "injected failure: commit refused (simulated interruption)")
        header = next((item["value"] for item in lines if item["key"] == "header"), None)
        if header is None:
            raise HubError(400, "commit payload has no header line")
        regular, lfs, deletions = {}, {}, []
        for item in lines:
            key, value = item["key"], item["value"]
            if key == "file":
                if value.get("encoding") != "base64":
                    raise HubError(400, f"unsupported encoding for {value.get('path')}")
                regular[value["path"]] = base64.b64decode(value["content"])
            elif key == "lfsFile":
                size = value.get("size")
                if size is None and state.has_blob(value["oid"]):
                    size = state.blob_path(value["oid"]).stat().st_size
                lfs[value["path"]] = (value["oid"], int(size))
            elif key in ("deletedFile", "deletedFolder"):
                deletions.append((value["path"], key == "deletedFolder"))
            elif key != "header":
                raise HubError(400, f"unknown commit operation {key!r}")
        branch = unquote(rev)
        commit = state.commit(r, branch, header.get("parentCommit"), header.get("summary", ""), regular, lfs, deletions)
        self._send_json(
            {
                "success": True,
                "commitOid": commit.oid,
                "commitUrl": f"{self._repo_url(r)}/commit/{commit.oid}",
                "pullRequestUrl": None,
            }
        )

    # -- read ------------------------------------------------------------------------------------------------
    def h_tree(self, repo: str, rev: str, path: str = "") -> None:
        r = self._repo(repo)
        state = self.server.state
        commit = state.get_commit(r, rev)
        folder = unquote(path).strip("/")
        if folder and folder in commit.files:
            raise HubError(404, f"{folder} is a file, not a folder", "EntryNotFound")
        recursive = self.query.get("recursive", ["false"])[0].lower() in ("1", "true")
        expand = self.query.get("expand", ["false"])[0].lower() in ("1", "true")
        entries = tree_entries(commit, folder, recursive)
        if folder and not entries:
            raise HubError(404, f"{folder} does not exist on {unquote(rev)}", "EntryNotFound")
        start = int(self.query.get("cursor", ["0"])[0])
        page = entries[start : start + self.server.page_size]
        if expand:
            for item in page:
                item["lastCommit"] = commit_ref(state.last_commit_touching(r, commit, item["path"]))
        headers = {}
        if start + self.server.page_size < len(entries):
            params = {"recursive": str(recursive), "expand": str(expand), "cursor": start + self.server.page_size}
            next_url = (
                self._endpoint() + urlsplit(self.path).path + "?" + "&".join(f"{k}={v}" for k, v in params.items())
            )
            headers["Link"] = f'<{next_url}>; rel="next"'
        self._send_json(page, headers=headers)

    def h_paths_info(self, repo: str, rev: str) -> None:
        r = self._repo(repo)
        state = self.server.state
        commit = state.get_commit(r, rev)
        body = self._read_body()
        if self.headers.get("Content-Type", "").startswith("application/json"):
            form = json.loads(body or b"{}")
            paths, expand = form.get("paths", []), bool(form.get("expand"))
        else:
            form = parse_qs(body.decode())
            paths, expand = form.get("paths", []), form.get("expand", ["False"])[0].lower() in ("1", "true")
        out = []
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                item = file_info(commit, path, commit.files[path])
            elif any(p.startswith(path + "/") for p in commit.files):
                item = folder_info(commit, path)
            else:
                continue  # the Hub silently leaves out paths that do not exist
            if expand:
                item["lastCommit"] = commit_ref(state.last_commit_touching(r, commit, path))
            out.append(item)
        self._send_json(out)

    def h_resolve(self, repo: str, rev: str, path: str) -> None:
        r = self._repo(repo)
        commit = self.server.state.get_commit(r, rev)
        path = unquote(path)
        entry = commit.files.get(path)
        if entry is None:
            raise HubError(404, f"{path} does not exist on {unquote(rev)}", "EntryNotFound")
        blob = self.server.state.blob_path(entry.sha256)
        size = entry.size
        headers = {
            "X-Repo-Commit": commit.oid,
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "ETag": f'"{commit.git_oids[path]}"',
        }
        if entry.lfs:
            headers["X-Linked-Etag"] = f'"{entry.sha256}"'
            headers["X-Linked-Size"] = str(size)
        start, end, status = 0, size - 1, 200
        range_header = self.headers.get("Range")
        if range_header:
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", range_header.strip())
            if not match or (not match.group(1) and not match.group(2)):
                raise HubError(416, f"unsupported Range {range_header!r}")
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:  # suffix range: the last N bytes
                start = max(size - int(match.group(2)), 0)
            if start >= size or start > end:
                self._send(416, b"", {"Content-Range": f"bytes */{size}"})
                return
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        length = end - start + 1
        if self.command == "HEAD":
            self._send(status, b"", headers, content_length=length)
            return
        with blob.open("rb") as fh:
            fh.seek(start)
            data = fh.read(length)
        self._send(status, data, headers)


class HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: HubState, page_size: int):
        super().__init__(("127.0.0.1", 0), HubRequestHandler)
        self.state = state
        self.page_size = page_size
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"


class HubServer:
    """Start/stop wrapper: ``with HubServer(tmp) as hub: os.environ["HF_ENDPOINT"] = hub.endpoint``."""

    def __init__(self, root: str | Path | None = None, page_size: int = 50):
        self._tmp = None if root is not None else tempfile.TemporaryDirectory(prefix="hub-server-")
        self.state = HubState(Path(root if root is not None else self._tmp.name))
        self.httpd = HubHTTPServer(self.state, page_size)
        self.endpoint = self.httpd.endpoint
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="hub-server", daemon=True)

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # Convenience views for assertions.
    @property
    def lfs_uploads(self) -> list[str]:
        return list(self.state.lfs_uploads)

    def fail_next_commits(self, n: int) -> None:
        with self.state.lock:
            self.state.fail_next_commits = n

    def fail_next_tags(self, n: int) -> None:
        with self.state.lock:
            self.state.fail_next_tags = n

    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo:
        return self.state.get_repo(repo_type, repo_id)


if __name__ == "__main__":  # manual use: python -m tests.helpers.hub_server, then HF_ENDPOINT=<printed url>
    with HubServer() as hub:
        print(hub.endpoint, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
