"""The shared test inputs of tests/helpers/ are what they claim to be: read by the project's own readers."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.generate_fixtures import SIZE, coco_source_spec, write_coco_set
from tests.helpers.release_rows import make_rows, write_generator_output


def test_fixture_set_reads_through_the_real_coco_source(tmp_path):
    from inpaintbench.builder.scene import Scene, SkippedInput
    from inpaintbench.builder.sources import build_sources

    images_dir, annotations = write_coco_set(tmp_path, num_images=3)
    (source,) = build_sources([coco_source_spec(images_dir, annotations)])
    ids = source.list_image_ids()
    assert len(ids) == 5
    loaded = {image_id: source.load(image_id) for image_id in ids}
    scenes = [v for v in loaded.values() if isinstance(v, Scene)]
    skipped = [v for v in loaded.values() if isinstance(v, SkippedInput)]
    assert len(scenes) == 3 and len(skipped) == 2
    assert {Path(s.path).name for s in skipped} == {"truncated.png", "missing.png"}
    assert all(s.image.size == (SIZE, SIZE) and len(s.objects) >= 3 for s in scenes)


def test_fixture_output_is_readable_by_the_release_loader(tmp_path):
    from inpaintbench.builder.release.inputs import load_generator_output

    generated = load_generator_output(write_generator_output(tmp_path / "gen-v1", make_rows(range(12))))
    # 12 photos: a pristine row and one edit per backend (2) each.
    assert sum(shard.num_samples for shard in generated.shards) == 36
