"""Each captioning data source on fixtures in its exact on-disk layout (missing images
included), the caption tokenizer, and the tf.data pipeline."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from lstmsuite.apps.captioning.data import SOURCES
from lstmsuite.apps.captioning.tokenizer import (
    END,
    OOV,
    PAD,
    START,
    CaptionTokenizer,
    words,
)


def write_image(path: Path, seed: int, size=(24, 20)):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def make_flickr8k(root: Path, missing=("m1.jpg",)) -> Path:
    """The Flickr8k layout: token file, three split lists, Flicker8k_Dataset/."""
    splits = {
        "Flickr_8k.trainImages.txt": ["t1.jpg", "t2.jpg", "t3.jpg", *missing],
        "Flickr_8k.devImages.txt": ["d1.jpg", "d2.jpg"],
        "Flickr_8k.testImages.txt": ["e1.jpg", "e2.jpg"],
    }
    colours = ["red", "blue", "green", "black", "white", "brown"]
    lines = []
    for k, name in enumerate(n for names in splits.values() for n in names):
        if name not in missing:
            write_image(root / "Flicker8k_Dataset" / name, k)
        for n in range(2):
            dog = f"A {colours[(k + n) % 6]} dog runs on the grass ."
            lines.append(f"{name}#{n}\t{dog}")
    for file, names in splits.items():
        (root / file).write_text("\n".join(names) + "\n")
    (root / "Flickr8k.token.txt").write_text("\n".join(lines) + "\n")
    return root


# ------------------------------------------------------------------------- tokenizer


def test_tokenizer_normalizes_reserves_ids_and_maps_oov(tmp_path):
    assert " ".join(words("A dog's ball, in the PARK!")) == "a dog's ball in the park"
    tok = CaptionTokenizer.fit(["a red circle", "a blue circle", "a red square"])
    assert tok.vocabulary[:4] == ["<pad>", "<unk>", "<start>", "<end>"]
    assert tok.vocabulary[4:7] == ["a", "circle", "red"]  # by count, then spelling
    ids = tok.encode("A red zebra.")
    assert ids == [tok.index["a"], tok.index["red"], OOV]
    assert tok.decode([START, *ids, END, 5, PAD]) == "a red <unk>"
    assert tok.encode("a red circle a", max_words=2) == ids[:2]
    rare = CaptionTokenizer.fit(["a red circle", "a blue circle"], min_count=2)
    assert rare.encode("blue circle") == [OOV, rare.index["circle"]]
    assert len(CaptionTokenizer.fit(["a b c d"], max_words=2)) == 6

    tok.save(tmp_path / "vocab.json")
    assert CaptionTokenizer.load(tmp_path / "vocab.json").vocabulary == tok.vocabulary
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a caption vocabulary"):
        CaptionTokenizer.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="train a model"):
        CaptionTokenizer.load(tmp_path / "none.json")


# --------------------------------------------------------------------------- sources


def test_flickr8k_layout_skips_and_counts_missing_images(tmp_path):
    root = make_flickr8k(tmp_path / "flickr")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = SOURCES.get("flickr8k")(str(root))
    assert any("missing" in str(w.message) for w in caught)
    assert data.info["skipped"]["captions_without_image"] == 2
    assert [len(data[s]) for s in ("train", "valid", "test")] == [3, 2, 2]
    train = data["train"]
    assert train.names == ["t1.jpg", "t2.jpg", "t3.jpg"]
    assert Path(train.images[0]) == root / "Flicker8k_Dataset" / "t1.jpg"
    assert train.captions[0] == [
        "A red dog runs on the grass .",
        "A blue dog runs on the grass .",
    ]
    assert SOURCES.get("flickr8k")(str(root), limit=1).info["images"]["train"] == 1

    (root / "Flickr_8k.devImages.txt").unlink()
    with pytest.raises(FileNotFoundError, match="Flickr_8k.devImages.txt"):
        SOURCES.get("flickr8k")(str(root))
    with pytest.raises(FileNotFoundError, match="image folder"):
        SOURCES.get("flickr8k")(str(tmp_path))


def coco_json(path: Path, files: dict[int, str], captions: list[tuple[int, str]]):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "images": [{"id": i, "file_name": f} for i, f in files.items()],
        "annotations": [
            {"id": k, "image_id": i, "caption": c} for k, (i, c) in enumerate(captions)
        ],
    }
    path.write_text(json.dumps(data))


def test_coco_json_layout(tmp_path):
    root = tmp_path / "coco"
    train_files = {1: "000001.jpg", 2: "000002.jpg", 3: "000003.jpg"}
    for i, name in train_files.items():
        if i != 3:  # 3 is missing on disk
            write_image(root / "train2017" / name, i)
    coco_json(
        root / "annotations" / "captions_train2017.json",
        train_files,
        [(1, "a cat"), (1, "a small cat"), (2, "a dog"), (3, "a bird"), (9, "nobody")],
    )
    val_files = {10 + k: f"{k:06d}.jpg" for k in range(12)}
    for i, name in val_files.items():
        write_image(root / "val2017" / name, i)
    coco_json(
        root / "annotations" / "captions_val2017.json",
        val_files,
        [(i, f"picture {i}") for i in val_files],
    )
    data = SOURCES.get("coco")(str(root))
    assert data["train"].captions == [["a cat", "a small cat"], ["a dog"]]
    # the bird (image missing) and the caption of an unknown image id are counted
    assert data.info["skipped"]["captions_without_image"] == 2
    assert len(data["valid"]) + len(data["test"]) == 12
    assert set(data["valid"].names).isdisjoint(data["test"].names)

    (root / "annotations" / "captions_val2017.json").write_text('{"images": 3}')
    with pytest.raises(ValueError, match="not a COCO captions file"):
        SOURCES.get("coco")(str(root))


def test_coco_tfds_not_prepared_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="coco_captions is not prepared"):
        SOURCES.get("coco_tfds")(str(tmp_path))


def test_coco_tfds_reads_the_tfds_structure(tmp_path, monkeypatch):
    """tfds.load replaced by a dataset of coco_captions' element structure."""
    import io

    import tensorflow as tf
    import tensorflow_datasets as tfds
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buffer, format="JPEG")
    calls = []

    def fake_load(name, split, data_dir, download, decoders):
        calls.append((name, split, data_dir, download))
        element = {
            "image": tf.constant(buffer.getvalue()),
            "image/filename": tf.constant(b"x.jpg"),
            "captions": {"text": tf.constant([b"a black square", b"darkness"])},
        }
        return tf.data.Dataset.from_tensors(element).repeat(2)

    monkeypatch.setattr(tfds, "load", fake_load)
    (tmp_path / "coco_captions").mkdir()  # what a prepared data_dir holds
    data = SOURCES.get("coco_tfds")(str(tmp_path), limit=2)
    assert [c[1] for c in calls] == ["train[:2]", "val[:2]", "test[:2]"]
    assert all(c[3] is False and c[2] == str(tmp_path) for c in calls)
    assert data["test"].captions[1] == ["a black square", "darkness"]
    assert data["train"].images[0][:2] == b"\xff\xd8"  # still an encoded JPEG


def test_folder_layout_several_lines_per_image(tmp_path):
    root = tmp_path / "folder"
    names = [f"sub/img{k}.png" for k in range(6)]
    for k, name in enumerate(names[:-1]):  # the last one is missing
        write_image(root / name, k)
    lines = [f"{n}\tcaption {k} one\n{n}\tcaption {k} two" for k, n in enumerate(names)]
    (root / "captions.tsv").write_text("\n".join(lines) + "\n")
    (root / "train.txt").write_text("\n".join(names[:3]))
    (root / "valid.txt").write_text(names[3])
    (root / "test.txt").write_text("\n".join(names[4:]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = SOURCES.get("folder")(str(root))
    assert data["train"].captions[0] == ["caption 0 one", "caption 0 two"]
    assert [len(data[s]) for s in ("train", "valid", "test")] == [3, 1, 1]
    assert data.info["skipped"]["captions_without_image"] == 2

    (root / "captions.tsv").write_text("no tab here\n")
    with pytest.raises(ValueError, match=r"captions.tsv:1: expected"):
        SOURCES.get("folder")(str(root))


def test_folder_skips_corrupt_images_with_a_warning_naming_them(tmp_path):
    """A truncated JPEG and random bytes named .jpg are skipped when the data load
    (not a TensorFlow error mid-training), each named in a warning and listed in
    info["skipped"]["unreadable_images"]; the good images remain."""
    root = tmp_path / "folder"
    names = ["good0.jpg", "good1.png", "truncated.jpg", "noise.jpg", "good2.jpg"]
    for k, name in enumerate(names):
        write_image(root / name, k, size=(64, 48))
    data = (root / "truncated.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    rng = np.random.default_rng(0)
    (root / "noise.jpg").write_bytes(rng.integers(0, 256, 2000, np.uint8).tobytes())
    lines = [f"{n}\ta picture called {n}" for n in names]
    (root / "captions.tsv").write_text("\n".join(lines) + "\n")
    (root / "train.txt").write_text("good0.jpg\ntruncated.jpg\nnoise.jpg\n")
    (root / "valid.txt").write_text("good1.png\n")
    (root / "test.txt").write_text("good2.jpg\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = SOURCES.get("folder")(str(root))
    messages = [str(w.message) for w in caught]
    for bad in ("truncated.jpg", "noise.jpg"):
        assert any(bad in m and "unreadable image" in m for m in messages), messages
    skipped = dict(data.info["skipped"]["unreadable_images"])
    assert set(skipped) == {"truncated.jpg", "noise.jpg"}
    assert all(reason.startswith("unreadable image") for reason in skipped.values())
    assert data["train"].names == ["good0.jpg"]
    assert data["valid"].names == ["good1.png"] and data["test"].names == ["good2.jpg"]
    assert data.info["images"] == {"train": 1, "valid": 1, "test": 1}

    # the pipeline decodes every image that was kept
    from lstmsuite.apps.captioning.pipeline import image_dataset

    for split in ("train", "valid", "test"):
        assert len(list(image_dataset(data[split].images, 8).as_numpy_iterator())) == 1

    # a format tf.io.decode_image cannot read is skipped too
    from PIL import Image

    Image.new("RGB", (8, 8)).save(root / "good2.jpg", format="TIFF")
    with pytest.raises(ValueError, match="the test split has no images"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            SOURCES.get("folder")(str(root))
    assert any(
        "good2.jpg" in str(w.message) and "TIFF images are not supported" in str(w)
        for w in caught
    )


def test_flickr8k_and_coco_skip_corrupt_images(tmp_path):
    root = make_flickr8k(tmp_path / "flickr", missing=())
    (root / "Flicker8k_Dataset" / "t2.jpg").write_bytes(b"not an image at all")
    with pytest.warns(UserWarning, match=r"t2\.jpg: unreadable image"):
        data = SOURCES.get("flickr8k")(str(root))
    assert data["train"].names == ["t1.jpg", "t3.jpg"]
    assert [n for n, _ in data.info["skipped"]["unreadable_images"]] == ["t2.jpg"]

    coco = tmp_path / "coco"
    for i in (1, 2):
        write_image(coco / "train2017" / f"{i:06d}.jpg", i)
    (coco / "train2017" / "000002.jpg").write_bytes(b"\xff\xd8\xff broken")
    coco_json(
        coco / "annotations" / "captions_train2017.json",
        {1: "000001.jpg", 2: "000002.jpg"},
        [(1, "a cat"), (2, "a dog")],
    )
    val_files = {10 + k: f"{k:06d}.jpg" for k in range(12)}
    for i, name in val_files.items():
        write_image(coco / "val2017" / name, i)
    coco_json(
        coco / "annotations" / "captions_val2017.json",
        val_files,
        [(i, f"picture {i}") for i in val_files],
    )
    with pytest.warns(UserWarning, match=r"000002\.jpg: unreadable image"):
        data = SOURCES.get("coco")(str(coco))
    assert data["train"].captions == [["a cat"]]
    assert [n for n, _ in data.info["skipped"]["unreadable_images"]] == ["000002.jpg"]


def test_unreadable_image_warnings_are_capped(tmp_path):
    from lstmsuite.apps.captioning.data import CaptionSplit, drop_unreadable

    paths = [tmp_path / f"bad{k:02d}.jpg" for k in range(12)]
    for path in paths:
        path.write_bytes(b"junk")
    write_image(tmp_path / "good.png", 0)
    part = CaptionSplit(
        images=[str(p) for p in [*paths, tmp_path / "good.png"]],
        captions=[["a"]] * 13,
        names=[p.name for p in [*paths, tmp_path / "good.png"]],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        skipped = drop_unreadable("test", [part])
    assert len(skipped) == 12 and part.names == ["good.png"]
    assert len(caught) == 11 and "12 unusable images" in str(caught[-1].message)


def test_shapes_are_deterministic_and_captioned_from_the_scene():
    from lstmsuite.apps.captioning.shapes import captions_of, render_split

    a = SOURCES.get("shapes")(train=5, valid=2, test=3, size=32)
    b = SOURCES.get("shapes")(train=5, valid=2, test=3, size=32)
    assert a.info["synthetic"] and a["train"].images.shape == (5, 32, 32, 3)
    np.testing.assert_array_equal(a["test"].images, b["test"].images)
    assert a["test"].captions == b["test"].captions
    assert not np.array_equal(a["train"].images[:2], a["valid"].images)
    assert all(len(refs) == 3 for refs in a["train"].captions)

    images, captions, scenes = render_split(40, seed=7, size=48)
    for image, refs, scene in zip(images, captions, scenes):
        assert refs == captions_of(scene)
        for shape in scene:  # every described shape is in every reference
            assert all(shape.words in ref for ref in refs)
        assert image.reshape(-1, 3).max(axis=0).max() > 100  # something was drawn
    from lstmsuite.apps.captioning.shapes import Shape

    pair = [
        Shape("circle", "red", "small", 0, 0),
        Shape("square", "blue", "large", 2, 1),
    ]
    assert captions_of(pair)[0] == "a small red circle above a large blue square"
    assert captions_of(pair)[2] == "a large blue square below a small red circle"


# -------------------------------------------------------------------------- pipeline


def test_a_corrupt_image_file_stops_the_pipeline_with_its_name(tmp_path):
    import tensorflow as tf

    from lstmsuite.apps.captioning.pipeline import image_dataset

    write_image(tmp_path / "good.png", 0)
    (tmp_path / "bad.jpg").write_bytes(b"<html>not found</html>")
    paths = [str(tmp_path / "good.png"), str(tmp_path / "bad.jpg")]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"bad\.jpg: not a JPEG"):
        list(image_dataset(paths, 8).as_numpy_iterator())
    assert len(list(image_dataset(paths[:1], 8).as_numpy_iterator())) == 1


def test_pipeline_batches_pad_per_batch_and_sample_captions(tmp_path):
    from lstmsuite.apps.captioning.config import CaptionDataConfig
    from lstmsuite.apps.captioning.data import load_flickr8k
    from lstmsuite.apps.captioning.pipeline import CaptionTokens, caption_pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = load_flickr8k(str(make_flickr8k(tmp_path / "f")))
    data["train"].captions[0] = ["a dog", "a black dog runs fast"]
    tok = CaptionTokenizer.fit(c for refs in data["train"].captions for c in refs)
    cfg = CaptionDataConfig(image_size=16, batch_size=2)
    tokens = CaptionTokens.encode(data["train"], tok, max_words=30)
    norm = lambda x: x / 255.0  # noqa: E731

    every = caption_pipeline(
        data["train"], tokens, cfg, training=False, seed=1, normalize=norm
    )
    batches = list(every.as_numpy_iterator())
    assert len(batches) == int(every.cardinality()) == 3  # 6 captions, 2 a batch
    (inputs, targets, weights) = batches[0]
    assert inputs["image"].shape == (2, 16, 16, 3) and inputs["image"].max() <= 1.0
    # per-batch padding: "a dog" (2 words) is padded to "a black dog runs fast" (5)
    assert targets.shape == (2, 6) and inputs["tokens"][:, 0].tolist() == [START, START]
    assert tok.decode(targets[0]) == "a dog"
    assert weights[0].tolist() == [1, 1, 1, 0, 0, 0]
    assert targets[0, 2] == END and weights[1].sum() == 6
    np.testing.assert_array_equal(inputs["tokens"][1, 1:], targets[1, :-1])

    cfg.caption_sampling = "random"
    sampled = caption_pipeline(
        data["train"], tokens, cfg, training=True, seed=1, normalize=norm
    )
    seen = set()
    for _ in range(6):  # each epoch: one caption per image, drawn anew
        epoch = list(sampled.as_numpy_iterator())
        assert sum(len(b[1]) for b in epoch) == 3
        seen |= {tok.decode(t) for b in epoch for t in b[1]}
    assert {"a dog", "a black dog runs fast"} <= seen
