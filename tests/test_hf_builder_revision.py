"""``InpaintBench`` (builder/hf_builder.py) caches by the exact release: a Hub revision's resolved commit, a
local folder's release.json sha256; never by the name it was asked for.

Through the real ``huggingface_hub`` / ``datasets`` clients against tests/helpers/hub_server.py (each client step in a
fresh interpreter, see tests/test_hub_roundtrip.py): v1.0.0 is published and read with ``revision=None``, then
a release with more samples moves ``main``; a new builder with ``revision=None`` and the same ``cache_dir`` must
read it. ``revision="v1.0.0"`` keeps reading v1.0.0. The
attack is the pre-fix key, run for real: the same builder given the config id its fields alone give (what
``datasets`` computed before the commit was one of them) lands in the same cache folder both times and serves
v1.0.0's rows after main moved.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.hub_client import client_env, publish, run_client
from tests.helpers.release_rows import make_rows, write_generator_output, write_split_config

pytestmark = pytest.mark.slow  # each client step is a fresh interpreter importing datasets (~3 s)

REPO = "inpaintbench-org/moving-main"
# The release that moves main. 2.0.0, not 1.1.0: its new photos' samples join evaluation splits, which
# builder/release/versioning.py allows only in a new major version.
NEXT = "2.0.0"

# Defines read(revision, prefix_key=False) in a client: the builder's rows, cache folder and commit.
CLIENT = """
import json
import datasets
from inpaintbench.builder.hf_builder import InpaintBench, ReleaseNotResolvable

NEXT = "{next}"

def read(revision=None, prefix_key=False):
    # prefix_key: the cache key before the fix, the config id of the builder's own fields (no commit).
    old = {{"config_id": InpaintBench.BUILDER_CONFIGS[0].create_config_id(
        {{"release": "{repo}", "revision": revision}})}}
    builder = InpaintBench(config_name="default", release="{repo}", revision=revision, cache_dir="{cache}",
                           **(old if prefix_key else {{}}))
    builder.download_and_prepare()
    ds = builder.as_dataset()
    return {{"ids": {{s: list(ds[s]["sample_id"]) for s in ds}}, "cache_dir": builder.cache_dir,
            "commit": builder.config.commit}}

def truth(tag):
    ds = datasets.load_dataset("{repo}", revision=tag)
    return {{s: list(ds[s]["sample_id"]) for s in ds}}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("revision-client")
    write_split_config(root / "splits.yaml")
    write_generator_output(root / "gen-v1", make_rows(range(12)))
    write_generator_output(root / "gen-v2", make_rows(range(16)))  # 4 more photos' samples
    return root


def client(hub, workdir, body: str, offline: bool = False) -> dict:
    code = CLIENT.format(repo=REPO, cache=workdir / "builder-cache", next=NEXT) + textwrap.dedent(body)
    if not offline:
        return run_client(hub, workdir, code)
    env = {**client_env(hub, workdir), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def history(hub, workdir):
    """What the clients read after v1.0.0, after NEXT (main moved), and then offline."""
    out = {}
    done = publish(hub, workdir, "1.0.0", "gen-v1", repo=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    out["v1"] = client(hub, workdir, """
        print(json.dumps({"main": read(), "main_prefix_key": read(prefix_key=True)}))
    """)
    done = publish(hub, workdir, NEXT, "gen-v2", repo=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    # The new version's truth is read by its commit, not its tag: the tag stays uncached for the offline step.
    next_commit = hub.repo(REPO).tags[f"v{NEXT}"]
    out["next"] = client(hub, workdir, f"""
        print(json.dumps({{"main": read(), "main_prefix_key": read(prefix_key=True), "tag_v1": read("v1.0.0"),
                           "truth_v1": truth("v1.0.0"), "truth_next": truth("{next_commit}")}}))
    """)
    # Offline: main and v1.0.0 resolve from the HF cache's refs; the new tag exists on the Hub but was never
    # fetched by that name, so it cannot be pinned and must say so.
    out["offline"] = client(hub, workdir, """
        try:
            read("v" + NEXT)
            error = None
        except ReleaseNotResolvable as exc:
            error = str(exc)
        print(json.dumps({"main": read(), "tag_v1": read("v1.0.0"), "uncached": error}))
    """, offline=True)
    return out


def test_a_new_builder_follows_main_to_the_new_commit(hub, history):
    tags = hub.repo(REPO).tags
    before, after = history["v1"]["main"], history["next"]["main"]
    assert before["commit"] == tags["v1.0.0"] and after["commit"] == tags[f"v{NEXT}"]
    assert before["ids"] == history["next"]["truth_v1"] and after["ids"] == history["next"]["truth_next"]
    assert sum(map(len, after["ids"].values())) > sum(map(len, before["ids"].values()))
    assert before["cache_dir"] != after["cache_dir"]
    assert hub.state.unhandled == []


def test_the_prefix_key_serves_stale_rows_after_main_moves(history):
    """The attack: keyed by its fields alone, the second builder finds the first one's cache and serves it."""
    before, after = history["v1"]["main_prefix_key"], history["next"]["main_prefix_key"]
    assert before["cache_dir"] == after["cache_dir"]
    assert after["ids"] == history["next"]["truth_v1"] != history["next"]["truth_next"]


def test_a_version_tag_keeps_its_rows(hub, history):
    pinned = history["next"]["tag_v1"]
    assert pinned["commit"] == hub.repo(REPO).tags["v1.0.0"] and pinned["ids"] == history["next"]["truth_v1"]
    assert pinned["cache_dir"] != history["next"]["main"]["cache_dir"]


def test_offline_resolves_from_the_cached_refs_and_names_an_uncached_revision(hub, history):
    offline = history["offline"]
    assert (
        offline["main"]["commit"] == hub.repo(REPO).tags[f"v{NEXT}"]
        and offline["main"]["ids"] == history["next"]["truth_next"]
    )
    assert offline["tag_v1"]["ids"] == history["next"]["truth_v1"]
    error = offline["uncached"]
    assert error and f"{REPO}@v{NEXT}" in error and "HF_HUB_OFFLINE=1" in error and "not in the local HF cache" in error


def _build(workdir: Path, gen: str, dest: Path) -> Path:
    from inpaintbench.builder.release.build import prepare_release
    from inpaintbench.builder.release.splits import load_split_config

    shutil.rmtree(dest, ignore_errors=True)
    folder, _, _ = prepare_release(workdir / gen, load_split_config(workdir / "splits.yaml"), "1.0.0", None, dest=dest)
    return folder


def _read(folder: Path, cache: Path, prefix_key: bool = False) -> tuple[dict, str]:
    from inpaintbench.builder.hf_builder import InpaintBench

    old = {"config_id": InpaintBench.BUILDER_CONFIGS[0].create_config_id({"release": str(folder)})}
    builder = InpaintBench(
        config_name="default", release=str(folder), cache_dir=str(cache), **(old if prefix_key else {})
    )
    builder.download_and_prepare()
    ds = builder.as_dataset()
    return {s: list(ds[s]["sample_id"]) for s in ds}, builder.cache_dir


def test_a_local_folder_rebuilt_in_place_is_read_anew(workdir, tmp_path):
    import datasets

    folder, cache = tmp_path / "release", tmp_path / "cache"
    truth = {}
    for gen in ("gen-v1", "gen-v2"):
        _build(workdir, gen, folder)
        ds = datasets.load_dataset(str(folder), cache_dir=str(tmp_path / f"truth-{gen}"))
        truth[gen] = {s: list(ds[s]["sample_id"]) for s in ds}
        truth[gen + "/read"] = _read(folder, cache)
        truth[gen + "/prefix_key"] = _read(folder, cache, prefix_key=True)
    assert truth["gen-v1"] != truth["gen-v2"]
    for gen in ("gen-v1", "gen-v2"):
        assert truth[gen + "/read"][0] == truth[gen]
    assert truth["gen-v1/read"][1] != truth["gen-v2/read"][1]
    # The attack: the pre-fix key (the folder's path) finds the old cache and serves the old rows.
    assert truth["gen-v1/prefix_key"][1] == truth["gen-v2/prefix_key"][1]
    assert truth["gen-v2/prefix_key"][0] == truth["gen-v1"] != truth["gen-v2"]


def test_a_folder_changed_after_the_builder_was_made_is_refused(workdir, tmp_path):
    from inpaintbench.builder.hf_builder import InpaintBench, ReleaseNotResolvable

    folder = _build(workdir, "gen-v1", tmp_path / "release")
    builder = InpaintBench(config_name="default", release=str(folder), cache_dir=str(tmp_path / "cache"))
    _build(workdir, "gen-v2", folder)
    with pytest.raises(ReleaseNotResolvable, match=r"release\.json: changed since this builder was created"):
        builder.download_and_prepare()
    assert not any((tmp_path / "cache").rglob("*.arrow"))  # nothing was cached under the old release's key

    (folder / "release.json").unlink()
    with pytest.raises(ReleaseNotResolvable, match=rf"{folder / 'release.json'}: missing"):
        InpaintBench(config_name="default", release=str(folder), cache_dir=str(tmp_path / "cache"))
    with pytest.raises(ValueError, match=r"\['commit'\] are derived from release= and revision="):
        InpaintBench(config_name="default", release=str(folder), commit="0" * 40)
