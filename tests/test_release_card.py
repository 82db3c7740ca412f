"""The dataset card (builder/release/card.py): Hub metadata, loading snippets that name only what a version has,
``dataset_info`` read by the real ``datasets`` client before any data is downloaded, and the sections rendered
from the summary keys newer releases carry (and left out for summaries without them)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.helpers.release_rows import make_rows, write_generator_output

REPO = "inpaintbench-org/card"
PLAIN_SPLITS = {
    "salt": "card-tests",
    "fractions": {"train": 0.5, "validation": 0.25, "test": 0.25},
    "out_of_domain": [{"split": "test_ood_backend", "backends": ["opencv_ns"]}],
    "configs": [{"name": "default"}, {"name": "paste_back", "where": {"strategy": ["paste_back", "none"]}}],
    "licenses": {
        "embedded": {
            "id": "other",
            "name": "embedded-photos",
            "link": "https://example.org/embedded",
            "note": "wheel photos",
        },
        "coco": {"id": "cc-by-4.0", "note": "Flickr licenses per image"},
        "mine": {"id": "cc-by-4.0", "note": "my own photos"},
    },
}
# A version whose in-domain splits are only train and validation: no "test" split exists.
NO_TEST_SPLITS = {
    **PLAIN_SPLITS,
    "salt": "card-no-test",
    "fractions": {"train": 0.5, "validation": 0.5},
    "out_of_domain": [],
}


def split_config(data: dict = PLAIN_SPLITS):
    from inpaintbench.builder.release.splits import parse_split_config

    return parse_split_config(data, "card-test-splits.yaml")


def _counts(per_split: dict[str, int]) -> dict[str, int]:
    return {**per_split, "total": sum(per_split.values())}


def fixture_summary(new_keys: bool, sources=("embedded",), assessment: bool = False) -> dict:
    """A tiny release summary of the shape builder/release/layout.py writes; with ``new_keys``, also the keys
    newer releases carry (image sizes, duplicates, shortcut audit, example row, split bytes, features)."""
    from inpaintbench.schema import release_features

    default = {"train": 4, "validation": 2, "test": 2, "test_ood_backend": 1}
    paste = {"train": 3, "validation": 1, "test": 2}
    configs = {
        "default": {
            "description": "",
            "where": {},
            "splits": {
                s: {"num_samples": n, "files": [f"data/default/{s}-00000-of-00001.parquet"]} for s, n in default.items()
            },
        },
        "paste_back": {
            "description": "pasted-back edits",
            "where": {"strategy": ["paste_back", "none"]},
            "splits": {
                s: {"num_samples": n, "files": [f"data/paste_back/{s}-00000-of-00001.parquet"]}
                for s, n in paste.items()
            },
        },
    }
    per_source = {source: _counts({"train": 4 // len(sources)}) for source in sources}
    summary = {
        "format": "inpaintbench-release",
        "format_version": 1,
        "version": "1.2.0",
        "repo_id": REPO,
        "generator": {
            "inpaintbench_version": "0.1.0",
            "config_hash": "c0ffee",
            "seed": 0,
            "manifest_sha256": "m4n1",
            "skipped": 0,
            "skipped_by_reason": {},
        },
        "split_config": {
            "file": "splits.yaml",
            "digest": "d1g3st",
            "salt": "card-tests",
            "fractions": {"train": 0.5, "validation": 0.25, "test": 0.25},
            "out_of_domain": [{"split": "test_ood_backend", "backends": ["opencv_ns"], "sources": []}],
        },
        "configs": configs,
        "num_samples": 9,
        "num_source_photos": 4,
        "counts": {
            "split": {s: _counts({s: n}) for s, n in default.items()},
            "label": {
                "inpainted": _counts({"train": 2, "validation": 1, "test": 1, "test_ood_backend": 1}),
                "pristine": _counts({"train": 2, "validation": 1, "test": 1}),
            },
            "backend": {
                "none": _counts({"train": 2, "validation": 1, "test": 1}),
                "patchmatch": _counts({"train": 2, "validation": 1, "test": 1}),
                "opencv_ns": _counts({"test_ood_backend": 1}),
            },
            "source": per_source,
            "category": {"": _counts({"train": 2}), "dog": _counts({"train": 2})},
            "strategy": {"none": _counts({"train": 2}), "paste_back": _counts({"train": 2})},
            "action": {"none": _counts({"train": 2}), "remove": _counts({"train": 2})},
            "mask_variant": {"": _counts({"train": 2}), "object": _counts({"train": 2})},
        },
        "excluded_ood_samples_on_train_photos": {"test_ood_backend": 1},
        "ood_samples_with_in_domain_photo": {"test_ood_backend": 1},
    }
    if assessment:
        summary["assessment"] = {
            "judge": "detector",
            "params": {"detector": "ela"},
            "trials": 2,
            "seed": 0,
            "judge_key": "j1",
            "sidecar": "assessments/deceptiveness.parquet",
            "sidecar_sha256": "5ha",
            "share_deceived": {
                "overall": {"inpainted": 5, "judged": 4, "deceived": 1, "share_deceived": 0.25},
                "by_backend": {"patchmatch": {"inpainted": 4, "judged": 4, "deceived": 1, "share_deceived": 0.25}},
                "by_split": {"train": {"inpainted": 2, "judged": 2, "deceived": 1, "share_deceived": 0.5}},
            },
        }
        configs["deceiving"] = {
            "description": "deceiving edits",
            "where": {"ugda_outcome": ["deceiving", "uncertain"]},
            "include_pristine": True,
            "splits": {"train": {"num_samples": 3, "files": ["data/deceiving/train-00000-of-00001.parquet"]}},
        }
    if new_keys:
        for config in configs.values():
            for split in config["splits"].values():
                split["num_bytes"] = 1000 * split["num_samples"] + 7
        summary["features"] = release_features(assessment).to_dict()
        summary["image_sizes"] = {"width": {"min": 256, "max": 640}, "height": {"min": 200, "max": 512},
                                  "sizes": {"512x342": 3, "640x480": 3, "256x256": 2, "512x512": 1}}
        summary["duplicates"] = {"method": "sha256 of pixels; 64-bit pHash", "phash_max_distance": 6, "exact_groups": 1,
                                 "near_groups": 2, "photos_in_groups": 5}
        summary["shortcut_audit"] = {
            "bound": 0.6,
            "classifier": "logistic regression",
            "features": ["has_iccp", "bytes_per_pixel"],
            "folds": 5,
            "configs": {
                "default": {
                    "auc": 0.512,
                    "n": 9,
                    "top_features": ["has_iccp"],
                    "noncanonical": {"pristine": 0, "inpainted": 1},
                    "pixel_compressibility": {"auc": 0.734},
                },
                "paste_back": {"auc": None, "n": 6, "top_features": [], "reason": "not auditable: 1 photo"},
            },
            "passed": True,
            "override_reason": None,
        }
        summary["example_row"] = {
            "sample_id": "embedded-astronaut-0123456789abcdef",
            "label": 1,
            "source": "embedded",
            "source_image_id": "astronaut",
            "object_id": "1",
            "category": "helmet",
            "action": "remove",
            "replacement": "",
            "replacement_score": None,
            "prompt": "background",
            "backend": "patchmatch",
            "backend_params": '{"backend": "patchmatch", "patch_size": 15}',
            "strategy": "paste_back",
            "seed": 5107926897622511159,
            "mask_variant": "object",
            "mask_dilation_pct": 0.7,
            "mask_area_fraction": 0.016,
            "width": 512,
            "height": 512,
            "extra": '{"planner": "simple"}',
        }
    return summary


def front_matter(text: str) -> dict:
    return yaml.safe_load(text.split("---", 2)[1])


def card_infos(text: str):
    """What the real clients read from a card: huggingface_hub's DatasetCard, then datasets' DatasetInfosDict."""
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCard

    return DatasetInfosDict.from_dataset_card_data(DatasetCard(text).data)


def snippet_names(text: str) -> tuple[set[str], set[str]]:
    """(split names, config names) every ``load_dataset``/``as_dataset`` call in the card's code blocks uses."""
    code = "\n".join(re.findall(r"```python\n(.*?)```", text, flags=re.S))
    return set(re.findall(r'split="([^"]+)"', code)), set(re.findall(r'load_dataset\("[^"]+", "([^"]+)"', code))


# ---- front matter --------------------------------------------------------------------------------------------


def test_front_matter_carries_the_hub_fields_and_dataset_info_per_config():
    from inpaintbench.builder.release.card import render_card
    from inpaintbench.schema import release_features

    summary = fixture_summary(new_keys=True)
    text = render_card(summary, split_config())
    meta = front_matter(text)
    assert meta["license"] == "other" and meta["license_name"] == "embedded-photos" and meta["license_link"] == "https://example.org/embedded"
    assert meta["language"] == ["en"] and meta["multilinguality"] == "monolingual"
    assert meta["annotations_creators"] == ["machine-generated"] and meta["language_creators"] == ["machine-generated"]
    assert meta["source_datasets"] == ["original"] and meta["task_ids"] == [
        "multi-class-image-classification",
        "semantic-segmentation",
    ]
    assert "arxiv" not in meta  # not a Hub field: the papers are arXiv URLs in the text
    assert "https://arxiv.org/abs/2502.06593" in text and "https://arxiv.org/abs/2310.01830" in text

    infos = card_infos(text)
    assert list(infos) == ["default", "paste_back"]
    for name, info in infos.items():
        assert info.features == release_features(False)
        splits = summary["configs"][name]["splits"]
        assert {s: (i.num_examples, i.num_bytes) for s, i in info.splits.items()} == {
            s: (v["num_samples"], v["num_bytes"]) for s, v in splits.items()
        }
        assert info.download_size == info.dataset_size == sum(v["num_bytes"] for v in splits.values())


def test_dataset_info_is_written_by_datasets_own_serializer():
    """Same bytes as datasets' own DatasetInfosDict.to_dataset_card_data gives for the same infos."""
    import datasets
    from datasets.info import DatasetInfosDict
    from huggingface_hub import DatasetCardData

    from inpaintbench.builder.release.card import front_matter as card_front_matter

    summary = fixture_summary(new_keys=True)
    reference = DatasetCardData()
    features = datasets.Features.from_dict(summary["features"])
    DatasetInfosDict(
        {
            name: datasets.DatasetInfo(
                features=features,
                splits=datasets.SplitDict.from_split_dict(
                    [
                        {"name": s, "num_examples": v["num_samples"], "num_bytes": v["num_bytes"]}
                        for s, v in c["splits"].items()
                    ]
                ),
                download_size=sum(v["num_bytes"] for v in c["splits"].values()),
                dataset_size=sum(v["num_bytes"] for v in c["splits"].values()),
            )
            for name, c in summary["configs"].items()
        }
    ).to_dataset_card_data(reference)
    assert card_front_matter(summary, split_config())["dataset_info"] == reference.to_dict()["dataset_info"]


def test_summary_without_split_bytes_gets_features_only():
    """No made-up num_bytes: the loader would reject a split entry without them, and 0 would be false."""
    from inpaintbench.builder.release.card import render_card
    from inpaintbench.schema import release_features

    text = render_card(fixture_summary(new_keys=False, assessment=True), split_config())
    infos = card_infos(text)
    assert set(infos) == {"default", "paste_back", "deceiving"}
    for info in infos.values():  # features from the assessment rule, since the summary records none
        assert info.features == release_features(True) and info.splits is None and info.download_size is None


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (("coco",), {"license": "cc-by-4.0"}),
        (("coco", "mine"), {"license": "cc-by-4.0"}),  # same terms, whatever the notes say
        (("embedded",), {"license": "other", "license_name": "embedded-photos", "license_link": "https://example.org/embedded"}),
        (("coco", "embedded"), {"license": "other", "license_name": "mixed-cc-by-4.0-and-embedded-photos",
                                "license_link": f"https://huggingface.co/datasets/{REPO}/blob/v1.2.0/README.md#licenses"}),
    ],
)
def test_license_metadata(sources, expected):
    from inpaintbench.builder.release.card import license_metadata, render_card

    summary = fixture_summary(new_keys=False, sources=sources)
    assert license_metadata(summary, split_config()) == expected
    meta = front_matter(render_card(summary, split_config()))
    assert {k: meta[k] for k in expected} == expected and set(meta) & {"license_name", "license_link"} == set(
        expected
    ) - {"license"}


def test_mixed_license_without_a_repo_links_the_first_source_terms_and_the_card_explains_it():
    from inpaintbench.builder.release.card import license_metadata, render_card

    summary = {**fixture_summary(new_keys=False, sources=("coco", "embedded")), "repo_id": None}
    assert license_metadata(summary, split_config())["license_link"] == "https://example.org/embedded"
    text = render_card(summary, split_config())
    assert "`license: other` (`mixed-cc-by-4.0-and-embedded-photos`)" in text
    assert "| `coco` | `cc-by-4.0` | - | Flickr licenses per image |" in text
    assert "| `embedded` | `other` | [embedded-photos](https://example.org/embedded) | wheel photos |" in text


def test_source_datasets_follow_the_hub_convention():
    from inpaintbench.builder.release.card import front_matter as card_front_matter

    assert card_front_matter(fixture_summary(False, ("coco",)), split_config())["source_datasets"] == ["extended|coco"]
    assert card_front_matter(fixture_summary(False, ("coco", "embedded")), split_config())["source_datasets"] == [
        "extended|coco",
        "original",
    ]


def test_card_data_files_reads_every_config_of_the_front_matter(tmp_path):
    from inpaintbench.builder.hf_builder import card_data_files
    from inpaintbench.builder.release.card import render_card

    summary = fixture_summary(new_keys=True, assessment=True)
    (tmp_path / "README.md").write_text(render_card(summary, split_config()), encoding="utf-8")
    for name, config in summary["configs"].items():
        assert card_data_files(tmp_path / "README.md", name) == {s: [f"data/{name}/{s}-*"] for s in config["splits"]}


# ---- snippets --------------------------------------------------------------------------------------------------


def _with_default_splits(summary: dict, splits: list[str]) -> dict:
    summary = copy.deepcopy(summary)
    summary["configs"]["default"]["splits"] = {s: {"num_samples": 1, "files": []} for s in splits}
    return summary


@pytest.mark.parametrize(
    ("splits", "chosen"),
    [(["train", "validation", "test"], "test"), (["train", "validation"], "validation"),
     (["train", "test_ood_backend"], "test_ood_backend"), (["train"], "train"), ([], None)],
)
def test_snippet_split_is_one_the_version_has(splits, chosen):
    from inpaintbench.builder.release.card import render_card, snippet_split

    summary = _with_default_splits(fixture_summary(new_keys=False, assessment=True), splits)
    assert snippet_split(summary) == chosen
    named_splits, named_configs = snippet_names(render_card(summary, split_config()))
    assert named_splits == ({chosen} if chosen else set())
    assert named_configs == {"deceiving"}


def test_deceiving_config_is_named_only_when_present():
    from inpaintbench.builder.release.card import render_card

    summary = fixture_summary(new_keys=False, assessment=True)
    del summary["configs"]["deceiving"]
    assert snippet_names(render_card(summary, split_config()))[1] == set()


@pytest.fixture(scope="module")
def no_test_release(tmp_path_factory):
    """A real release folder whose version has no ``test`` split (fractions train/validation only)."""
    from inpaintbench.builder.release.inputs import load_generator_output
    from inpaintbench.builder.release.layout import build_release

    root = tmp_path_factory.mktemp("card-no-test")
    out = write_generator_output(root / "gen", make_rows(range(6)))
    summary = build_release(
        load_generator_output(out), split_config(NO_TEST_SPLITS), root / "release", "1.0.0", REPO, 20_000
    )
    return root / "release", summary


def test_the_cards_snippets_load_on_a_version_without_test(no_test_release, tmp_path):
    """Every split and config the card names loads from the release folder itself; the old snippet's
    ``split="test"`` does not (the attack)."""
    import datasets

    dest, summary = no_test_release
    assert "test" not in summary["configs"]["default"]["splits"]
    text = (dest / "README.md").read_text(encoding="utf-8")
    splits, configs = snippet_names(text)
    assert splits == {"validation"} and 'split="test"' not in text
    for split in splits:
        for config in configs | {"default"}:
            ds = datasets.load_dataset(str(dest), config, split=split, cache_dir=str(tmp_path / "cache"))
            assert ds.num_rows == summary["configs"][config]["splits"][split]["num_samples"]
    with pytest.raises(ValueError, match="Unknown split"):
        datasets.load_dataset(str(dest), split="test", cache_dir=str(tmp_path / "cache"))


# ---- body sections -----------------------------------------------------------------------------------------------


def test_sections_from_the_new_summary_keys():
    from inpaintbench.builder.release.card import BATCHING_RECIPE, CODE_URL, render_card

    text = render_card(fixture_summary(new_keys=True, assessment=True), split_config())
    for needle in (
        "## Fields",
        "| `label` | class label (int64) | 0 = `pristine` (the untouched photo), 1 = `inpainted` |",
        "| `width` | int32 | image width in pixels (`image`, `mask` and `original` share it); 256-640 in this "
        "version |",
        "| `ugda_outcome` | string |",
        "### JSON columns",
        '`{"backend": <name>, ...}`',
        "`normalisation` (every sample)",
        "### An example row",
        '"seed": 5107926897622511159',
        "### Image sizes",
        "width 256-640 px, height 200-512 px, 4 distinct size(s)",
        "| 512x342 | 3 |\n| 640x480 | 3 |\n| 256x256 | 2 |",
        "Sizes vary",
        BATCHING_RECIPE,
        "near-identical by perceptual hash (at most 6 bits apart)",
        "1 group(s) of identical and 2 group(s) of near-identical photos, 5 photos",
        "## File-level shortcut audit",
        "Classifier: `logistic regression`.",
        "File properties: `has_iccp`, `bytes_per_pixel`.",
        "over 5 folds grouped by source photo",
        "| `default` | 0.512 | - | 9 | 0 / 1 | 0.734 | `has_iccp` |",
        "| `paste_back` | not measured | - | 6 | - | - | not auditable: 1 photo |",
        "no file-level shortcut was found",
        "## Personal and sensitive information",
        "`astronaut`",
        "no consent",
        "To have a photo removed",
        "## Bias, risks and limitations",
        "### Limitations and misuse risk",
        "Images are stored losslessly",
        "### Bias",
        "pip install torch==2.13.0",
        f"pip install git+{CODE_URL}",
        f"[{CODE_URL}]({CODE_URL})",
        "A sample id names one content forever: it is derived from the sample's recipe, and publish refuses a "
        "release in which an existing id has other pixels",
    ):
        assert needle in text, needle
    assert "stable across versions" not in text
    # The example row is printed in column order and holds no image column.
    example = json.loads(re.search(r"### An example row\n\n.*?```json\n(.*?)```", text, flags=re.S).group(1))
    assert list(example)[:3] == ["sample_id", "label", "source"] and not {"image", "mask", "original"} & set(example)


def test_a_failed_audit_is_said_with_its_reason():
    from inpaintbench.builder.release.card import render_card

    summary = fixture_summary(new_keys=True)
    summary["shortcut_audit"].update(passed=False, override_reason="known ICC difference, fixed in 1.3.0")
    text = render_card(summary, split_config())
    assert "**The audit did not pass**" in text and "known ICC difference, fixed in 1.3.0" in text
    assert "no file-level shortcut was found" not in text


def test_an_older_summary_renders_without_the_new_sections():
    from inpaintbench.builder.release.card import BATCHING_RECIPE, render_card

    text = render_card(fixture_summary(new_keys=False), split_config())
    for absent in (
        "### Image sizes",
        BATCHING_RECIPE,
        "### An example row",
        "## File-level shortcut audit",
        "Duplicate photos",
        "in this version |",
    ):
        assert absent not in text, absent
    for present in (
        "## Fields",
        "### JSON columns",
        "## Personal and sensitive information",
        "## Bias, risks and limitations",
        "## Licenses",
    ):
        assert present in text, present


def test_every_released_column_is_documented():
    from inpaintbench.builder.release.card import FIELD_DOCS, render_card
    from inpaintbench.schema import release_features

    assert set(release_features(True)) <= set(FIELD_DOCS)
    # The attack: a column the card does not know is shown as undocumented, not silently dropped.
    summary = fixture_summary(new_keys=True)
    summary["features"] = {**summary["features"], "brand_new": {"dtype": "string", "_type": "Value"}}
    assert "| `brand_new` | string | (not documented yet) |" in render_card(summary, split_config())


def test_same_summary_same_bytes():
    from inpaintbench.builder.release.card import render_card

    summary = fixture_summary(new_keys=True, assessment=True)
    first = render_card(summary, split_config())
    assert render_card(copy.deepcopy(summary), split_config()) == first
    # release.json stores the example row with sorted keys: the card prints it in column order either way.
    shuffled = copy.deepcopy(summary)
    shuffled["example_row"] = dict(sorted(summary["example_row"].items()))
    shuffled["image_sizes"]["sizes"] = dict(sorted(summary["image_sizes"]["sizes"].items()))
    assert render_card(shuffled, split_config()) == first


def test_code_url_is_the_projects_url_in_pyproject():
    from inpaintbench.builder.release.card import CODE_URL

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["urls"] == {"Homepage": CODE_URL, "Source": CODE_URL}


# ---- through the real clients against tests/helpers/hub_server.py -------------------------------------------------


def _strip_dataset_info(readme: Path) -> None:
    from huggingface_hub import DatasetCard

    card = DatasetCard(readme.read_text(encoding="utf-8"))
    card.data.pop("dataset_info")
    readme.write_text(str(card), encoding="utf-8")


@pytest.mark.slow
def test_load_dataset_builder_knows_features_and_splits_before_any_download(hub, tmp_path):
    """Publish a small release, then in a fresh interpreter with an empty cache: load_dataset_builder's info has
    the release's features and split counts, and no data file was fetched. The control: the same release with
    its card's dataset_info removed gives the loader no features and no splits."""
    from inpaintbench.builder.release.inputs import load_generator_output
    from inpaintbench.builder.release.layout import build_release
    from inpaintbench.builder.release.splits import load_split_config
    from tests.helpers.hub_client import run_client

    (tmp_path / "splits.yaml").write_text(yaml.safe_dump(PLAIN_SPLITS, sort_keys=False))
    gen = write_generator_output(tmp_path / "gen", make_rows(range(8)))
    control_repo = REPO + "-control"
    folders = {}
    for repo in (REPO, control_repo):
        folders[repo] = tmp_path / repo.replace("/", "__")
        build_release(
            load_generator_output(gen),
            load_split_config(tmp_path / "splits.yaml"),
            folders[repo],
            "1.0.0",
            repo,
            20_000,
        )
    _strip_dataset_info(folders[control_repo] / "README.md")
    run_client(hub, tmp_path / "publisher", f"""
        import json
        from inpaintbench.builder.release.publish import publish_release
        for repo, folder in {json.dumps({r: str(f) for r, f in folders.items()})}.items():
            publish_release(folder, repo, "1.0.0")
        print(json.dumps({{}}))
    """)

    probe = """
        import json, os
        from pathlib import Path
        import datasets
        info = datasets.load_dataset_builder("{repo}", revision="v1.0.0").info
        cached = sorted(p.name for p in Path(os.environ["HF_HOME"]).rglob("*.parquet"))
        print(json.dumps({{
            "features": None if info.features is None else info.features.to_dict(),
            "splits": None if not info.splits else {{s: v.num_examples for s, v in info.splits.items()}},
            "cached_parquet": cached,
        }}))
    """
    got = run_client(hub, tmp_path / "reader", probe.format(repo=REPO))  # a fresh HF_HOME: nothing cached before
    summary = json.loads((folders[REPO] / "release.json").read_text())
    assert got["features"] == summary["features"]
    assert got["splits"] == {s: v["num_samples"] for s, v in summary["configs"]["default"]["splits"].items()}
    assert got["cached_parquet"] == []  # known before a byte of data was downloaded

    control = run_client(hub, tmp_path / "control-reader", probe.format(repo=control_repo))
    assert control["features"] is None and control["splits"] is None and control["cached_parquet"] == []

    # The recorded counts are what load_dataset checks the download against: the card's split loads as recorded.
    loaded = run_client(hub, tmp_path / "reader", f"""
        import json, datasets
        ds = datasets.load_dataset("{REPO}", "paste_back", revision="v1.0.0")
        print(json.dumps({{s: ds[s].num_rows for s in ds}}))
    """)
    assert loaded == {s: v["num_samples"] for s, v in summary["configs"]["paste_back"]["splits"].items()}
    shutil.rmtree(tmp_path / "reader", ignore_errors=True)
