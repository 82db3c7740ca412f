"""Publish and load through the real ``huggingface_hub`` and ``datasets`` clients against the local Hub
(tests/helpers/hub_server.py).

The clients read HF_ENDPOINT when they are imported, so every client step runs in a subprocess with the
endpoint, a fake token, HF_HUB_DISABLE_XET=1 and a private HF_HOME (tests/helpers/hub_client.py); the server
runs in this process, which is how the tests see what was uploaded and can refuse a commit to simulate an
interruption.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.hub_client import REPO, SHARD_BYTES, publish, run_client, run_publish
from tests.helpers.hub_server import HubServer
from tests.helpers.release_rows import SPLIT_CONFIG, make_rows, write_generator_output, write_split_config

pytestmark = pytest.mark.slow  # each client step is a fresh interpreter importing datasets (~2-3 s)


def _photos_in(split: str, count: int, start: int = 12) -> list[int]:
    """The first ``count`` photo indices from ``start`` that SPLIT_CONFIG puts in ``split``."""
    from inpaintbench.builder.release.splits import parse_split_config

    config = parse_split_config(SPLIT_CONFIG)
    return [p for p in range(start, start + 200) if config.assign("embedded", f"photo{p:03d}", "none") == split][:count]


NEW_TRAIN_PHOTOS = _photos_in("train", 4)
NEW_TEST_PHOTO = _photos_in("test", 1)[0]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    # page_size=5: tree listings of a release span several pages, so pagination is exercised.
    with HubServer(tmp_path_factory.mktemp("hub"), page_size=5) as server:
        yield server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hub-client")
    write_split_config(root / "splits.yaml")
    write_split_config(root / "moved-splits.yaml", salt="another-salt")
    write_generator_output(root / "gen-v1", make_rows(range(12)))
    # v1.1.0 adds 4 photos' samples, all in train: a minor version may not change an evaluation split.
    write_generator_output(root / "gen-v1.1", make_rows([*range(12), *NEW_TRAIN_PHOTOS]))
    write_generator_output(root / "gen-small", make_rows(range(20, 24)))  # for the interrupted publish
    # For the semantic-version checks (test_a_version_number_must_match_what_changed):
    write_generator_output(root / "gen-new-test-photo", make_rows([*range(12), NEW_TEST_PHOTO]))
    write_generator_output(root / "gen-one-photo-less", make_rows(range(11)))
    write_generator_output(root / "gen-other-seed", make_rows(range(12), seed=1))
    return root


def staged(workdir: Path, gen: str, repo: str, tag: str) -> dict:
    """The release.json of the folder publish staged for ``repo``/``tag``."""
    return json.loads((workdir / gen / "release" / repo.replace("/", "__") / tag / "release.json").read_text())


@pytest.fixture(scope="module")
def published(hub, workdir):
    """v1.0.0 then v1.1.0, through the release/publish API in one interpreter (the CLI is run by the tests below)."""
    return run_client(
        hub,
        workdir,
        f"""
        import json
        from inpaintbench.builder.release.build import prepare_release
        from inpaintbench.builder.release.publish import PublishError, publish_release
        from inpaintbench.builder.release.splits import load_split_config

        config = load_split_config("{workdir}/splits.yaml")
        out = {{}}
        # v1.1.0 is cut into 4 files per split, not 8: every v1.0.0 data file name goes, so the publish commit
        # must delete the stale ones.
        for version, gen, files in (("1.0.0", "gen-v1", 8), ("1.1.0", "gen-v1.1", 4)):
            folder, summary, _ = prepare_release("{workdir}/" + gen, config, version, "{REPO}",
                                                 max_shard_bytes={SHARD_BYTES}, min_files_per_split=files)
            result = publish_release(folder, "{REPO}", version)
            out[version] = {{"uploaded": result.uploaded, "unchanged": result.unchanged, "deleted": result.deleted}}
        # Then two publishes that must be refused (see test_versions_only_go_up...): an older version, and a
        # split rule change (another salt) within major version 1.
        for name, version, splits in (("older", "1.0.1", "splits.yaml"), ("moved", "1.2.0", "moved-splits.yaml")):
            folder, _, _ = prepare_release("{workdir}/gen-v1.1", load_split_config("{workdir}/" + splits), version,
                                           "{REPO}")
            try:
                publish_release(folder, "{REPO}", version)
                out[name] = "published"
            except PublishError as exc:
                out[name] = str(exc)
        print(json.dumps(out))
    """,
    )


def test_publish_tags_two_versions_each_holding_exactly_its_release(hub, workdir, published):
    repo = hub.repo(REPO)
    assert set(repo.tags) == {"v1.0.0", "v1.1.0"} and repo.tags["v1.0.0"] != repo.tags["v1.1.0"]
    assert repo.branches["main"] == repo.tags["v1.1.0"]
    for tag, gen in (("v1.0.0", "gen-v1"), ("v1.1.0", "gen-v1.1")):
        local = staged(workdir, gen, REPO, tag)
        files = repo.commits[repo.tags[tag]].files
        # The tagged commit holds this release's files (and the repo's .gitattributes), nothing stale.
        assert set(files) == set(local["files"]) | {"release.json", ".gitattributes"}
        for path, meta in local["files"].items():
            assert files[path].sha256 == meta["sha256"]
            assert files[path].lfs == path.endswith((".parquet", ".png"))
    # LFS uploads: all of v1.0.0's LFS files, then only v1.1.0's files whose content the repo did not hold yet.
    # (Two paths with identical bytes in one publish, e.g. a split shared by two configs, are sent once or twice
    # depending on the client's batching: compared as sets, and v1.0.0's contents are never sent again.)
    lfs = {
        tag: {
            p: m["sha256"]
            for p, m in staged(workdir, gen, REPO, tag)["files"].items()
            if p.endswith((".parquet", ".png"))
        }
        for tag, gen in (("v1.0.0", "gen-v1"), ("v1.1.0", "gen-v1.1"))
    }
    v1_shas = set(lfs["v1.0.0"].values())
    expected = list(lfs["v1.0.0"].values()) + [sha for sha in lfs["v1.1.0"].values() if sha not in v1_shas]
    sent = hub.state.lfs_uploads_by_repo[("dataset", REPO)]
    assert set(sent) == set(expected)
    first_v11 = next(i for i, sha in enumerate(sent) if sha not in v1_shas)
    assert not set(sent[first_v11:]) & v1_shas
    # v1.1.0 replaced v1.0.0's shards: what it did not rewrite was deleted in the same commit.
    v11 = published["1.1.0"]
    v1_files = set(staged(workdir, "gen-v1", REPO, "v1.0.0")["files"])
    assert v11["deleted"] and set(v11["deleted"]) == {p for p in v1_files if p.startswith("data/")} - set(
        staged(workdir, "gen-v1.1", REPO, "v1.1.0")["files"]
    )


@pytest.fixture(scope="module")
def loaded(hub, workdir, published):
    """Everything the clients read back, in one interpreter: each version by revision, a stream, a second config,
    and the builder class at a revision next to load_dataset."""
    return run_client(
        hub,
        workdir,
        f"""
        import json, math, datasets
        from inpaintbench.builder.hf_builder import InpaintBench

        def rows(ds):
            for c in ("image", "mask", "original"):
                ds = ds.cast_column(c, datasets.Image(decode=False))
            return [{{k: ("NaN" if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}}
                    for r in ds.to_list()]

        out = {{}}
        for tag in ("v1.0.0", "v1.1.0"):
            ds = datasets.load_dataset("{REPO}", revision=tag)
            out[tag] = {{s: list(ds[s]["sample_id"]) for s in ds}}
            out[tag + "/features"] = sorted({{json.dumps(ds[s].features.to_dict(), sort_keys=True) for s in ds}})
        stream = datasets.load_dataset("{REPO}", revision="v1.0.0", split="test", streaming=True)
        first = next(iter(stream))
        out["stream_first"] = [first["sample_id"], list(first["image"].size), first["mask"].mode]
        paste = datasets.load_dataset("{REPO}", "paste_back", revision="v1.0.0", split="train")
        out["paste_strategies"] = sorted(set(paste["strategy"]))

        expected = datasets.load_dataset("{REPO}", revision="v1.0.0")
        builder = InpaintBench(config_name="default", release="{REPO}", revision="v1.0.0",
                               cache_dir="{workdir}/builder-cache")
        builder.download_and_prepare()
        got = builder.as_dataset()
        out["builder_same"] = list(got) == list(expected) and all(
            got[s].features == expected[s].features and rows(got[s]) == rows(expected[s]) for s in expected)
        out["builder_rows"] = sum(got[s].num_rows for s in got)
        print(json.dumps(out))
    """,
    )


def test_load_each_version_by_revision_and_stream_one(workdir, loaded):
    from inpaintbench.schema import FEATURES

    for tag, gen in (("v1.0.0", "gen-v1"), ("v1.1.0", "gen-v1.1")):
        local = staged(workdir, gen, REPO, tag)
        counts = {s: c["num_samples"] for s, c in local["configs"]["default"]["splits"].items()}
        assert {s: len(ids) for s, ids in loaded[tag].items()} == counts
        assert loaded[tag + "/features"] == [json.dumps(FEATURES.to_dict(), sort_keys=True)]
    v1, v11 = loaded["v1.0.0"], loaded["v1.1.0"]
    # 12 and 16 photos of 3 samples each, less the held-out backend's edits of train photos (left out).
    # v1.1.0's new photos are all train photos: the evaluation splits hold the same samples in both versions.
    assert {s: ids for s, ids in v1.items() if s != "train"} == {s: ids for s, ids in v11.items() if s != "train"}
    for ids, (gen, generated) in ((v1, ("gen-v1", 36)), (v11, ("gen-v1.1", 48))):
        summary = staged(workdir, gen, REPO, "v1.0.0" if gen == "gen-v1" else "v1.1.0")
        left_out = summary["excluded_ood_samples_on_train_photos"]["test_ood_backend"]
        assert sum(map(len, ids.values())) == summary["num_samples"] == generated - left_out and left_out > 0
    # Old samples keep their ids and their split in the new version.
    split_v11 = {i: s for s, ids in v11.items() for i in ids}
    assert all(split_v11[i] == s for s, ids in v1.items() for i in ids)
    assert loaded["stream_first"] == [v1["test"][0], [16, 16], "L"]
    assert loaded["paste_strategies"] == ["none", "paste_back"]


def test_builder_class_reads_a_hub_revision_exactly_like_load_dataset(loaded):
    assert loaded["builder_same"] is True and loaded["builder_rows"] == sum(map(len, loaded["v1.0.0"].values()))


def test_every_endpoint_the_clients_called_is_implemented(hub, loaded):
    assert hub.state.unhandled == []  # the server records any request no route matched


def test_existing_tag_is_refused_and_left_alone(hub, workdir, published):
    repo = hub.repo(REPO)
    before = (dict(repo.tags), dict(repo.branches), len(repo.commits), len(hub.lfs_uploads))
    again = publish(hub, workdir, "1.0.0", "gen-v1")
    assert again.returncode == 2  # bad input: that version exists (exit 1 is kept for a Hub that fails)
    assert "tag v1.0.0 already exists" in again.stderr and "immutable" in again.stderr
    assert "release v1.0.0" not in again.stdout  # refused by the preflight, before any local build
    assert (dict(repo.tags), dict(repo.branches), len(repo.commits), len(hub.lfs_uploads)) == before


def test_versions_only_go_up_and_a_split_rule_change_needs_a_major_version(hub, published):
    assert "not after the latest release v1.1.0" in published["older"]
    assert "the split rule changed" in published["moved"] and "Accepted: 2.0.0" in published["moved"]
    repo = hub.repo(REPO)  # both refused before any upload or commit: v1.1.0 is still the head
    assert set(repo.tags) == {"v1.0.0", "v1.1.0"} and repo.branches["main"] == repo.tags["v1.1.0"]
    assert repo.commits[repo.tags["v1.1.0"]].parent == repo.tags["v1.0.0"]


def test_interrupted_publish_resumes_without_resending_files(hub, workdir):
    repo_id = "inpaintbench-org/interrupted"
    uploads_before = len(hub.lfs_uploads)
    hub.fail_next_commits(1)  # the server refuses the commit after the LFS uploads went through
    first = publish(hub, workdir, "1.0.0", "gen-small", repo=repo_id)
    assert first.returncode == 1 and "interrupted" in first.stderr and "Re-run" in first.stderr
    repo = hub.repo(repo_id)
    assert repo.tags == {} and set(repo.commits[repo.branches["main"]].files) == {".gitattributes"}
    sent_first = hub.lfs_uploads[uploads_before:]
    assert sent_first  # the LFS objects were uploaded before the commit failed

    hub.fail_next_tags(1)  # second run: the commit goes through, then the tag is refused
    second = publish(hub, workdir, "1.0.0", "gen-small", repo=repo_id)
    assert second.returncode == 1 and "committed but the tag could not be created" in second.stderr
    assert "`main` now holds exactly this release" in second.stderr and "Re-run the same command" in second.stderr
    assert "reused" in second.stdout  # the staged release folder was reused, not rebuilt
    assert hub.lfs_uploads[uploads_before + len(sent_first):] == []  # nothing sent twice
    assert repo.tags == {}
    commits_after_second = len(repo.commits)

    third = publish(hub, workdir, "1.0.0", "gen-small", repo=repo_id)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "0 files uploaded" in third.stdout and len(repo.commits) == commits_after_second  # only the tag was left
    assert hub.lfs_uploads[uploads_before + len(sent_first):] == []
    assert set(repo.tags) == {"v1.0.0"} and repo.tags["v1.0.0"] == repo.branches["main"]
    tagged = repo.commits[repo.tags["v1.0.0"]].files
    local = staged(workdir, "gen-small", repo_id, "v1.0.0")
    assert {p: tagged[p].sha256 for p in local["files"]} == {p: m["sha256"] for p, m in local["files"].items()}


def test_a_wrong_token_is_named_before_anything_is_built(hub, workdir):
    proc = run_publish(hub, workdir, workdir / "gen-small", workdir / "splits.yaml", "1.0.0", "inpaintbench-org/token",
                       env={"HF_TOKEN": "hf_not_a_token_the_hub_knows"})
    assert proc.returncode == 2 and "rejected the token (401 Unauthorized)" in proc.stderr
    assert not (workdir / "gen-small" / "release" / "inpaintbench-org__token").exists()  # nothing built
    assert ("dataset", "inpaintbench-org/token") not in hub.state.repos


def test_a_version_number_must_match_what_changed(hub, workdir):
    repo_id = "inpaintbench-org/semver"
    assert publish(hub, workdir, "1.0.0", "gen-v1", repo=repo_id).returncode == 0
    repo = hub.repo(repo_id)
    head = repo.branches["main"]

    def refused(version: str, gen: str) -> str:
        proc = publish(hub, workdir, version, gen, repo=repo_id)
        assert proc.returncode == 2, proc.stderr[-3000:]
        assert set(repo.tags) == {"v1.0.0"} and repo.branches["main"] == head  # nothing uploaded or tagged
        return proc.stderr

    # A photo added to an evaluation split changes what "v1 test" means: major, and the message says so.
    message = refused("1.1.0", "gen-new-test-photo")
    assert "need a major version" in message and "added to test" in message and "Accepted: 2.0.0" in message
    message = refused("1.1.0", "gen-one-photo-less")
    assert "removed" in message and "Accepted: 2.0.0" in message
    # The same photos rebuilt with another seed: every edit is another sample with another id (the old ids are
    # gone: major); the pristine photos keep their ids, and no id names other pixels than in v1.0.0.
    message = refused("1.1.0", "gen-other-seed")
    assert "removed" in message and "Accepted: 2.0.0" in message and "other pixels" not in message
    v1 = staged(workdir, "gen-v1", repo_id, "v1.0.0")
    other = json.loads(
        (workdir / "gen-other-seed" / "release" / "inpaintbench-org__semver" / "v1.1.0" / "release.json").read_text()
    )
    assert v1["num_samples"] == other["num_samples"]
    # Samples added to train only are a minor change: not a patch.
    message = refused("1.0.1", "gen-v1.1")
    assert (
        "need a minor version" in message
        and "samples added to train" in message
        and "Accepted: 1.1.0 or 2.0.0" in message
    )
    message = refused("1.3.0", "gen-v1.1")
    assert "Accepted: 1.1.0 or 2.0.0" in message and "consecutive" in message
    # The versions the messages named are accepted.
    assert publish(hub, workdir, "1.1.0", "gen-v1.1", repo=repo_id).returncode == 0
    assert publish(hub, workdir, "2.0.0", "gen-new-test-photo", repo=repo_id).returncode == 0
    assert set(repo.tags) == {"v1.0.0", "v1.1.0", "v2.0.0"}


def test_an_id_never_names_other_pixels(hub, workdir):
    """Two defences, each with its attack: a shard row whose pixels changed under its id is refused before the build
    (ids are recomputed from content), and an index claiming a published id with other pixels is refused against
    every published version read back through the real client."""
    from inpaintbench.ids import recompute_sample_id

    repo_id = "inpaintbench-org/ids"  # its own repo: this test does not depend on another test's publishes
    assert publish(hub, workdir, "1.0.0", "gen-v1", repo=repo_id).returncode == 0

    rows = make_rows(range(12))
    forged = next(r for r in rows if r["label"] == 1)
    forged["image"] = make_rows([99])[1]["image"]  # other pixels, same id
    assert recompute_sample_id(forged) != forged["sample_id"]
    write_generator_output(workdir / "gen-forged", rows)
    proc = publish(hub, workdir, "9.0.0", "gen-forged", repo=repo_id)
    assert (
        proc.returncode == 2
        and "carries an id its content does not give" in proc.stderr
        and "gen-forged" in proc.stderr
    )

    out = run_client(
        hub,
        workdir,
        """
        import json
        import pyarrow as pa
        from huggingface_hub import HfApi
        from inpaintbench.builder.release.hub_checks import read_published
        from inpaintbench.builder.release.versioning import ReleaseFacts, VersionError, check_version, content_conflicts

        published = read_published(HfApi(), "inpaintbench-org/ids")
        index = published.indexes["v1.0.0"]
        pixels = index.column("image_pixels_sha256").to_pylist()
        pixels[0] = "0" * 64
        forged = index.set_column(index.schema.get_field_index("image_pixels_sha256"), "image_pixels_sha256",
                                  pa.array(pixels))
        out = {"tags": sorted(published.indexes), "clean": content_conflicts(index, published.indexes),
               "conflicts": content_conflicts(forged, published.indexes)}
        latest = published.latest
        try:
            check_version(latest, ReleaseFacts("3.0.0", latest.features, latest.splits, latest.split_digest, forged),
                          published.indexes, "inpaintbench-org/ids")
            out["forged"] = "accepted"
        except VersionError as exc:
            out["forged"] = str(exc)
        print(json.dumps(out))
    """,
    )
    assert out["tags"] == ["v1.0.0"] and out["clean"] == []
    first_id = out["conflicts"][0].split()[0]
    assert len(out["conflicts"]) >= 1 and all(c.startswith(first_id) for c in out["conflicts"])
    assert "would name other pixels" in out["forged"] and "no version number allows" in out["forged"]

