"""Data sources of the handwriting app, each on tiny fixtures in its exact layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lstmsuite.apps.handwriting.data import SOURCES, SPLITS, check_image, split_of
from lstmsuite.apps.handwriting.synth import GLYPH, LineStyle, SyntheticLines

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
MNIST = SHARED_DATA / "mnist" / "mnist.npz"


def write_png(path: Path, width: int = 40, height: int = 20, dark_ink=True) -> None:
    """A light page with a dark stroke (as a scan), or the reverse."""
    page = np.full((height, width), 255 if dark_ink else 0, np.uint8)
    page[height // 3 : 2 * height // 3, width // 4 : 3 * width // 4] = (
        0 if dark_ink else 255
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(page).save(path)


def lines_of(split, n=None):
    """(images, texts) of the first n elements of a split's dataset."""
    ds = split.dataset() if n is None else split.dataset().take(n)
    pairs = [(img.numpy(), txt.numpy().decode()) for img, txt in ds]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_registry_names_every_source():
    assert {"digits_lines", "mnist_lines", "iam", "folder"} <= set(SOURCES.names())
    with pytest.raises(ValueError, match="Did you mean 'folder'"):
        SOURCES.get("foldr")


def test_split_of_is_deterministic():
    assert split_of("a01-000u") == split_of("a01-000u")
    counts = {s: 0 for s in SPLITS}
    for i in range(1000):
        counts[split_of(f"form-{i}")] += 1
    assert 700 < counts["train"] < 900 and 50 < counts["test"] < 150


# ------------------------------------------------------------------ synthetic lines


def tiny_bank(n=30, seed=0):
    rng = np.random.default_rng(seed)
    glyphs = np.zeros((n, GLYPH, GLYPH), np.uint8)
    glyphs[:, 6:22, 10:18] = rng.integers(150, 255, (n, 16, 8))  # a bar of ink
    return glyphs, np.arange(n) % 10


def test_fixed_lines_use_every_glyph_once_per_pass_and_repeat_exactly():
    glyphs, labels = tiny_bank()
    lines = SyntheticLines(glyphs, labels, fixed=True, passes=2, seed=3)
    texts = lines.transcriptions()
    assert len(lines) == len(texts)
    assert sum(map(len, texts)) == 2 * len(glyphs)
    assert all(1 <= len(t) <= 10 for t in texts)
    images, seen = lines_of(lines)
    assert seen == texts  # the dataset yields the planned texts, in order
    again, _ = lines_of(lines)
    assert all(np.array_equal(a, b) for a, b in zip(images, again))
    for image in images:
        assert image.shape[0] == GLYPH and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0


def test_training_lines_are_new_each_epoch_and_reproducible():
    glyphs, labels = tiny_bank()
    make = lambda: SyntheticLines(glyphs, labels, lines=6, fixed=False, seed=5)  # noqa: E731
    ds = make().dataset()
    first = [t.numpy() for _, t in ds]
    second = [t.numpy() for _, t in ds]
    assert len(first) == 6 and first != second  # a new epoch, new lines
    assert [t.numpy() for _, t in make().dataset()] == first  # same seed, same lines


def test_line_width_grows_with_the_digits():
    glyphs, labels = tiny_bank()
    style = LineStyle(min_digits=1, max_digits=1, gap=(2, 2), margin=(0, 0))
    one = SyntheticLines(glyphs, labels, lines=1, fixed=True, style=style, seed=1)
    style10 = LineStyle(min_digits=10, max_digits=10, gap=(2, 2), margin=(0, 0))
    ten = SyntheticLines(glyphs, labels, fixed=True, style=style10, seed=1)
    (short,), _ = lines_of(one, 1)
    (long,), (text,) = lines_of(ten, 1)
    assert len(text) == 10
    assert long.shape[1] > 5 * short.shape[1]


def test_line_style_rejects_unknown_options():
    with pytest.raises(TypeError, match="gapp"):
        LineStyle.from_options({"gapp": [0, 1]})
    with pytest.raises(ValueError, match="min_digits"):
        LineStyle.from_options({"min_digits": 4, "max_digits": 2})


def test_digits_lines_splits_are_disjoint_images():
    splits = SOURCES.get("digits_lines")(train_lines=8, passes=1)
    images = splits.info["digit_images"]
    assert sum(images.values()) == 1797  # every scikit-learn digit, in one split
    assert len(splits["train"]) == 8
    for split in ("valid", "test"):
        texts = splits[split].transcriptions()
        assert sum(map(len, texts)) == images[split]
        assert set("".join(texts)) <= set("0123456789")
    # The three banks hold different images (no test digit was seen in training).
    train = {g.tobytes() for g in splits["train"].glyphs}
    assert not any(g.tobytes() in train for g in splits["test"].glyphs)


@pytest.fixture
def tiny_mnist(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist.npz"
    np.savez(
        path,
        x_train=rng.integers(0, 255, (50, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 50),
        x_test=rng.integers(0, 255, (20, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 20),
    )
    return path


def test_mnist_lines_train_from_x_train_test_from_x_test(tiny_mnist):
    splits = SOURCES.get("mnist_lines")(str(tiny_mnist), train_lines=4, valid_images=10)
    assert splits.info["digit_images"] == {"train": 40, "valid": 10, "test": 20}
    with np.load(tiny_mnist) as npz:
        assert np.array_equal(splits["test"].glyphs, npz["x_test"])
        assert np.array_equal(splits["train"].glyphs, npz["x_train"][:40])
        assert np.array_equal(splits["valid"].glyphs, npz["x_train"][40:])
        y_test = "".join(map(str, npz["y_test"]))
    assert sorted("".join(splits["test"].transcriptions())) == sorted(y_test)
    _, texts = lines_of(splits["train"])
    assert len(texts) == 4


def test_mnist_lines_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        SOURCES.get("mnist_lines")(str(tmp_path / "missing.npz"))
    bad = tmp_path / "bad.npz"
    np.savez(bad, x_train=np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match="bad.npz.*y_train"):
        SOURCES.get("mnist_lines")(str(bad))


@pytest.mark.skipif(not MNIST.exists(), reason=f"{MNIST} not available")
def test_mnist_lines_on_the_shared_file():
    splits = SOURCES.get("mnist_lines")(str(MNIST), train_lines=2)
    assert splits.info["digit_images"] == {"train": 54000, "valid": 6000, "test": 10000}
    assert sum(map(len, splits["test"].transcriptions())) == 10000


# ------------------------------------------------------------------------------- IAM

WORDS_TXT = """\
#--- words.txt ---------------------------------------------------------------#
#
# format: a01-000u-00-00 ok 154 1 408 768 27 51 AT A
#
a01-000u-00-00 ok 154 408 768 27 51 AT A
a01-000u-00-01 ok 154 507 766 213 48 NN MOVE
a01-000u-00-02 err 154 796 764 70 50 TO to
a01-000u-01-00 ok 156 395 932 441 100 VB nominating
a01-000u-01-01 ok 156 901 958 147 79 DTI any
a01-003-00-00 ok 157 395 932 441 100 ., .
b02-010-00-00 ok 150 395 932 441 100 NN Labour
"""

LINES_TXT = """\
#--- lines.txt ---------------------------------------------------------------#
# format: a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from
a01-000u-00 ok 154 19 408 746 1661 89 A|MOVE|to|stop|Mr.|Gaitskell|from
a01-000u-01 err 156 19 395 932 1850 105 nominating|any|more|Labour
a01-003-00 ok 157 10 395 932 1850 105 Though|they|may|gather|some
b02-010-00 ok 150 10 395 932 1850 105 Left-wing|support,
"""


def make_iam(root: Path, with_splits: bool) -> Path:
    (root / "ascii").mkdir(parents=True)
    (root / "ascii" / "words.txt").write_text(WORDS_TXT)
    (root / "ascii" / "lines.txt").write_text(LINES_TXT)
    for raw in WORDS_TXT.splitlines():
        if raw.startswith("#"):
            continue
        word_id = raw.split()[0]
        if word_id == "a01-000u-01-01":
            continue  # a missing image
        parts = word_id.split("-")
        write_png(
            root / "words" / parts[0] / f"{parts[0]}-{parts[1]}" / f"{word_id}.png"
        )
    for line_id in ("a01-000u-00", "a01-000u-01", "a01-003-00", "b02-010-00"):
        parts = line_id.split("-")
        write_png(
            root / "lines" / parts[0] / f"{parts[0]}-{parts[1]}" / f"{line_id}.png", 120
        )
    if with_splits:
        (root / "trainset.txt").write_text("a01-000u-00\na01-000u-01\n")
        (root / "validationset1.txt").write_text("a01-003-00\n")
        (root / "testset.txt").write_text("b02-010-00\n")
    return root


def test_iam_words_with_official_splits(tmp_path):
    root = make_iam(tmp_path / "iam", with_splits=True)
    with pytest.warns(UserWarning, match="a01-000u-01-01: no such file"):
        splits = SOURCES.get("iam")(str(root), level="words")
    assert splits.info["err_entries"] == 1 and splits.info["official_splits"]
    assert splits.info["skipped"] == [("a01-000u-01-01", "no such file")]
    assert splits["train"].transcriptions() == ["A", "MOVE", "nominating"]
    assert splits["valid"].transcriptions() == ["."]
    assert splits["test"].transcriptions() == ["Labour"]
    assert splits["train"].paths[0].endswith("words/a01/a01-000u/a01-000u-00-00.png")
    images, texts = lines_of(splits["test"])
    assert texts == ["Labour"] and images[0].shape == (20, 40)
    # A scan is dark ink on light paper: it comes out inverted, background 0.
    assert images[0][0, 0] == 0.0 and images[0].max() == 1.0


def test_iam_lines_join_words_with_spaces(tmp_path):
    root = make_iam(tmp_path / "iam", with_splits=True)
    splits = SOURCES.get("iam")(str(root), level="lines")
    assert splits.info["err_entries"] == 1
    assert splits["train"].transcriptions() == ["A MOVE to stop Mr. Gaitskell from"]
    assert splits["test"].transcriptions() == ["Left-wing support,"]


def test_iam_without_split_files_splits_by_form(tmp_path):
    root = make_iam(tmp_path / "iam", with_splits=False)
    try:
        splits = SOURCES.get("iam")(str(root), level="lines")
    except ValueError as e:  # 3 forms may not fill all three splits
        assert "no " in str(e) and "lines" in str(e)
        return
    for split, files in splits.items():
        assert all(split_of("-".join(n.split("-")[:2])) == split for n in files.names)


def test_iam_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="words.txt"):
        SOURCES.get("iam")(str(tmp_path))
    with pytest.raises(ValueError, match="level"):
        SOURCES.get("iam")(str(tmp_path), level="pages")
    (tmp_path / "words.txt").write_text("a01-000u-00-00 maybe 154\n")
    with pytest.raises(ValueError, match=r"words.txt:1: expected an IAM words entry"):
        SOURCES.get("iam")(str(tmp_path))


# ---------------------------------------------------------------------------- folder


def make_folder(root: Path) -> Path:
    rows = [
        ("scans/one.png", "hello", "train"),
        ("scans/two.png", "world", "train"),
        ("scans/three.jpg", "hi there", "valid"),
        ("four.png", "bye", "test"),
        ("broken.png", "oops", "train"),
        ("gone.png", "never", "test"),
    ]
    for relative, _, _ in rows[:3]:
        write_png(root / relative, dark_ink=False)
    Image.fromarray(np.full((10, 30), 200, np.uint8)).save(root / "four.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    (root / "labels.tsv").write_text(
        "# path\ttext\tsplit\n" + "".join(f"{p}\t{t}\t{s}\n" for p, t, s in rows)
    )
    return root


def test_folder_reads_labels_and_skips_bad_images(tmp_path):
    root = make_folder(tmp_path / "data")
    with pytest.warns(UserWarning, match="broken.png: unreadable image"):
        splits = SOURCES.get("folder")(str(root))
    skipped = dict(splits.info["skipped"])
    assert set(skipped) == {"broken.png", "gone.png"}
    assert splits.info["lines"] == {"train": 2, "valid": 1, "test": 1}
    assert splits["train"].transcriptions() == ["hello", "world"]
    assert splits["valid"].transcriptions() == ["hi there"]
    images, texts = lines_of(splits["train"])
    assert texts == ["hello", "world"] and images[0].shape == (20, 40)


def test_folder_errors_name_file_and_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels.tsv"):
        SOURCES.get("folder")(str(tmp_path))
    (tmp_path / "labels.tsv").write_text("a.png\thello\n\nb.png no tab\n")
    with pytest.raises(ValueError, match=r"labels.tsv:3: expected"):
        SOURCES.get("folder")(str(tmp_path))
    (tmp_path / "labels.tsv").write_text("a.png\thello\ttrian\n")
    with pytest.raises(ValueError, match="split must be train, valid or test"):
        SOURCES.get("folder")(str(tmp_path))


def test_check_image(tmp_path):
    write_png(tmp_path / "ok.png")
    (tmp_path / "text.png").write_text("hello")
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.tiff")
    assert check_image(tmp_path / "ok.png") is None
    assert check_image(tmp_path / "none.png") == "no such file"
    assert check_image(tmp_path / "text.png").startswith("unreadable image")
    assert "TIFF images are not supported" in check_image(tmp_path / "a.tiff")
