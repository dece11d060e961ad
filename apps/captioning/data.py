"""Data sources of the captioning app: named loaders of images and their captions.

    from lstmsuite.apps.captioning.data import SOURCES

    data = SOURCES.get("flickr8k")("/data/flickr8k")
    data["train"].images[0]      # '/data/flickr8k/Flicker8k_Dataset/1000268201_...jpg'
    data["train"].captions[0]    # the five reference captions of that image
    data.info["skipped"]         # {'captions_without_image': 0, ...,
                                 #  'unreadable_images': [('x.jpg', 'unreadable ...')]}

Every loader has the signature `(path: str | None = None, **options)` and returns a
`CaptionData`: a dict "train" / "valid" / "test" -> `CaptionSplit` (the images, as
file paths, encoded bytes or a uint8 array, and the reference captions of each) with
an `info` summary. An unknown option is a TypeError naming it; a missing file names
it; an empty split is a ValueError. Images are listed here and, for the sources that
read image files (`flickr8k`, `coco`, `folder`), checked once (`check_image`); they
are decoded, resized and normalized later, inside tf.data
(`apps/captioning/pipeline.py`).

An image file that is unreadable or corrupt (PIL cannot open, verify and decode it:
random bytes, a truncated JPEG) or not in a format `tf.io.decode_image` reads (PNG,
JPEG, BMP, GIF) is skipped with a warning naming the file and the reason, and listed
in `info["skipped"]["unreadable_images"]` as `(name, reason)` pairs; its captions are
dropped. If that leaves a split without images, the split is an error as above.

Sources:

* `flickr8k`: the Flickr8k layout (see apps/captioning/README.md): the folder
  `data.path` holds `Flickr8k.token.txt` (`image.jpg#N<TAB>caption`), the split lists
  `Flickr_8k.trainImages.txt`, `Flickr_8k.devImages.txt`, `Flickr_8k.testImages.txt`
  (also accepted in a `Flickr8k_text/` subfolder) and the images in
  `Flicker8k_Dataset/` (the official spelling), `Flickr8k_Dataset/`, `Images/` or
  `images/`, or the folder the `images` option names. A caption whose image is
  missing is skipped and counted in `info["skipped"]`, never a crash.
* `coco`: COCO captions JSON (`captions_train2017.json` style: `images` with
  `id`/`file_name`, `annotations` with `image_id`/`caption`) and its image folder.
  Defaults: training from `annotations/captions_train2017.json` + `train2017/`; the
  images of `annotations/captions_val2017.json` + `val2017/` split 50/50 by an MD5 of
  the file name into validation and test (COCO's own test set has no captions).
  Options `train_json`, `train_images`, `eval_json`, `eval_images` (relative to
  `data.path`) change this; `limit` keeps the first N images of each JSON.
* `coco_tfds`: TFDS `coco_captions` (Karpathy splits train / val / test) read with
  `tfds.load(..., data_dir=data.path, download=False)`: for users who have it
  prepared; a clear error otherwise. The encoded JPEGs are held in memory, so use the
  `limit` option (images per split) on small machines.
* `folder`: images plus `captions.tsv` (`relative/path.jpg<TAB>caption`, several lines
  per image allowed). `train.txt` / `valid.txt` / `test.txt` (relative paths, one a
  line) define the splits when present; otherwise an MD5 of the path does (80/10/10).
* `shapes` (the embedded default): synthetic Pillow-drawn scenes, see
  `apps/captioning/shapes.py`. Options `train`, `valid`, `test` (scene counts),
  `size` (pixels), `max_shapes`, `seed`.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lstmsuite.pipelines.registry import Registry
from lstmsuite.pipelines.sources import (
    SPLITS,
    Splits,
    load_source,
    md5_split,
    require_dir,
    require_file,
)

SOURCES = Registry("captioning data source")


@dataclass
class CaptionSplit:
    """Images and their reference captions, in the same order.

    `images` is a list of file paths (str), a list of encoded image bytes, or a uint8
    array (N, H, W, 3) of decoded pixels; `names` are for display (file names).
    """

    images: Any
    captions: list[list[str]]
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.captions)


class CaptionData(Splits):
    """`{"train": CaptionSplit, "valid": ..., "test": ...}` plus an `info` summary."""


# ------------------------------------------------------------------------ image check

#: Formats both PIL (the check) and tf.io.decode_image (the pipeline) read. MPO is
#: how PIL names the JPEG files of many cameras (a JPEG with extra frames appended);
#: TF decodes them as JPEGs.
IMAGE_FORMATS = ("PNG", "JPEG", "MPO", "BMP", "GIF")

#: Individual warnings for skipped images; beyond this, one summary line.
_MAX_WARNINGS = 10


def check_image(path: str | Path) -> str | None:
    """Why an image file cannot be used, or None when it can.

    `verify()` reads the whole file; for a PNG that is enough (every chunk has a
    checksum, a truncated file fails), but it does not check that the data of a JPEG,
    BMP or GIF is complete, so those are also decoded: a JPEG at 1/8 scale (`draft`),
    which still reads every byte of it, at a fraction of the cost. (With
    `PIL.ImageFile.LOAD_TRUNCATED_IMAGES = True` set by someone, PIL accepts truncated
    files and so does this check.)
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            fmt = image.format
            image.verify()
        if fmt in IMAGE_FORMATS and fmt != "PNG":
            with Image.open(path) as image:
                if fmt in ("JPEG", "MPO"):
                    image.draft(None, (1, 1))
                image.load()
    except FileNotFoundError:
        return "no such file"
    except Exception as e:  # noqa: BLE001 -- PIL raises many types on bad data
        return f"unreadable image ({str(e) or type(e).__name__})"
    if fmt not in IMAGE_FORMATS:
        formats = ", ".join(f for f in IMAGE_FORMATS if f != "MPO")
        return f"{fmt} images are not supported (use {formats})"
    return None


def drop_unreadable(
    source: str, parts: Iterable[CaptionSplit]
) -> list[tuple[str, str]]:
    """Checks every image file of `parts` once (in threads: the work is file reading
    and decoding, which PIL does without the GIL), removes the bad ones and their
    captions from `parts` in place, warns about each (up to `_MAX_WARNINGS`, then one
    summary line) and returns them as `(name, reason)` pairs."""
    parts = list(parts)
    paths = sorted({str(p) for part in parts for p in part.images})
    with ThreadPoolExecutor(max_workers=8) as pool:
        reasons = dict(zip(paths, pool.map(check_image, paths)))
    skipped: list[tuple[str, str]] = []
    for part in parts:
        keep = []
        for i, path in enumerate(map(str, part.images)):
            if reasons[path] is None:
                keep.append(i)
                continue
            if len(skipped) < _MAX_WARNINGS:
                warnings.warn(
                    f"{source}: skipped {path}: {reasons[path]}", stacklevel=3
                )
            skipped.append((part.names[i] if part.names else path, reasons[path]))
        if len(keep) < len(part.images):
            part.images = [part.images[i] for i in keep]
            part.captions = [part.captions[i] for i in keep]
            part.names = [part.names[i] for i in keep] if part.names else []
    if len(skipped) > _MAX_WARNINGS:
        warnings.warn(
            f"{source}: {len(skipped)} unusable images skipped in all (see "
            "info['skipped']['unreadable_images'])",
            stacklevel=3,
        )
    return skipped


def _summary(source: str, splits: dict[str, CaptionSplit], **extra) -> dict[str, Any]:
    for name in SPLITS:
        if name not in splits or len(splits[name]) == 0:
            raise ValueError(f"{source}: the {name} split has no images with captions")
    return {
        "source": source,
        "images": {k: len(v) for k, v in splits.items()},
        "captions": {k: sum(map(len, v.captions)) for k, v in splits.items()},
        **extra,
    }


# --------------------------------------------------------------------------- flickr8k

FLICKR_IMAGE_DIRS = (
    "Flicker8k_Dataset",
    "Flickr8k_Dataset",
    "Flickr8k_Dataset/Flicker8k_Dataset",
    "Images",
    "images",
)
FLICKR_SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "valid": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


def _flickr_text(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / "Flickr8k_text" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{folder / name}: Flickr8k file not found")


@SOURCES.register("flickr8k")
def load_flickr8k(
    path: str | None = None, images: str | None = None, limit: int | None = None
) -> CaptionData:
    """The Flickr8k layout; `images` names the image folder, `limit` keeps the first
    N images of each split list."""
    folder = require_dir(path, "flickr8k")
    if images is not None:
        image_dir = folder / images
        if not image_dir.is_dir():
            raise FileNotFoundError(f"{image_dir}: flickr8k image folder not found")
    else:
        found = [folder / d for d in FLICKR_IMAGE_DIRS if (folder / d).is_dir()]
        if not found:
            raise FileNotFoundError(
                f"{folder}: no Flickr8k image folder (expected one of "
                f"{', '.join(FLICKR_IMAGE_DIRS)}, or set data.options.images)"
            )
        image_dir = found[0]

    token_file = _flickr_text(folder, "Flickr8k.token.txt")
    captions: dict[str, list[str]] = defaultdict(list)
    bad_lines = 0
    for number, line in enumerate(token_file.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        key, sep, caption = line.partition("\t")
        name = key.rsplit("#", 1)[0].strip()
        if not sep or not name or not caption.strip():
            bad_lines += 1
            if bad_lines <= 3:
                warnings.warn(
                    f"{token_file}:{number + 1}: expected image.jpg#N<TAB>caption",
                    stacklevel=2,
                )
            continue
        captions[name].append(caption.strip())

    skipped = {"captions_without_image": 0, "images_without_caption": 0}
    skipped["bad_lines"] = bad_lines
    splits = {}
    for split, list_name in FLICKR_SPLIT_FILES.items():
        list_file = _flickr_text(folder, list_name)
        names = [n.strip() for n in list_file.read_text(encoding="utf-8").split()]
        names = names[:limit] if limit else names
        kept = CaptionSplit(images=[], captions=[], names=[])
        for name in names:
            if not captions.get(name):
                skipped["images_without_caption"] += 1
                continue
            image = image_dir / name
            if not image.is_file():
                skipped["captions_without_image"] += len(captions[name])
                continue
            kept.images.append(str(image))
            kept.captions.append(captions[name])
            kept.names.append(name)
        splits[split] = kept
    skipped["unreadable_images"] = drop_unreadable("flickr8k", splits.values())
    if skipped["captions_without_image"]:
        warnings.warn(
            f"flickr8k: skipped {skipped['captions_without_image']} captions whose "
            f"image is missing from {image_dir}",
            stacklevel=2,
        )
    info = _summary("flickr8k", splits, skipped=skipped, image_dir=str(image_dir))
    return CaptionData(splits, info)


# ------------------------------------------------------------------------------- coco


def read_coco_json(
    json_path: Path, image_dir: Path, limit: int | None = None
) -> tuple[CaptionSplit, dict[str, int]]:
    """One COCO captions file: (split of the images that have a file and captions,
    skipped counts)."""
    try:
        data = json.loads(require_file(json_path, "coco", "captions file").read_text())
        files = {int(im["id"]): str(im["file_name"]) for im in data["images"]}
        pairs = [(int(a["image_id"]), str(a["caption"])) for a in data["annotations"]]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"{json_path}: not a COCO captions file (needs images[].id/file_name and "
            f"annotations[].image_id/caption): {e!r}"
        ) from None
    by_image: dict[int, list[str]] = defaultdict(list)
    for image_id, caption in pairs:
        if caption.strip():
            by_image[image_id].append(caption.strip())
    skipped = {"captions_without_image": 0, "images_without_caption": 0}
    split = CaptionSplit(images=[], captions=[], names=[])
    for image_id in sorted(files)[:limit] if limit else sorted(files):
        name = files[image_id]
        if not by_image.get(image_id):
            skipped["images_without_caption"] += 1
            continue
        if not (image_dir / name).is_file():
            skipped["captions_without_image"] += len(by_image[image_id])
            continue
        split.images.append(str(image_dir / name))
        split.captions.append(by_image[image_id])
        split.names.append(name)
    unknown = sum(len(v) for k, v in by_image.items() if k not in files)
    skipped["captions_without_image"] += unknown
    return split, skipped


def _coco_path(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / "annotations" / name):
        if candidate.exists():
            return candidate
    return folder / name


@SOURCES.register("coco")
def load_coco(
    path: str | None = None,
    train_json: str = "captions_train2017.json",
    train_images: str = "train2017",
    eval_json: str = "captions_val2017.json",
    eval_images: str = "val2017",
    limit: int | None = None,
) -> CaptionData:
    """COCO captions JSON + image folders (see the module docstring)."""
    folder = require_dir(path, "coco")
    train, skipped_train = read_coco_json(
        _coco_path(folder, train_json), folder / train_images, limit
    )
    held_out, skipped_eval = read_coco_json(
        _coco_path(folder, eval_json), folder / eval_images, limit
    )
    unreadable = drop_unreadable("coco", [train, held_out])
    splits = {"train": train}
    for name in ("valid", "test"):
        keep = [
            i
            for i, n in enumerate(held_out.names)
            if md5_split(n, valid=5, test=5) == name
        ]
        splits[name] = CaptionSplit(
            images=[held_out.images[i] for i in keep],
            captions=[held_out.captions[i] for i in keep],
            names=[held_out.names[i] for i in keep],
        )
    skipped = {k: skipped_train[k] + skipped_eval[k] for k in skipped_train}
    skipped["unreadable_images"] = unreadable
    return CaptionData(splits, _summary("coco", splits, skipped=skipped))


@SOURCES.register("coco_tfds")
def load_coco_tfds(path: str | None = None, limit: int | None = None) -> CaptionData:
    """TFDS `coco_captions` from the prepared `data_dir` = `data.path`."""
    import tensorflow_datasets as tfds

    data_dir = str(Path(path).expanduser()) if path else None
    hint = (
        "Prepare it once with `tfds build coco_captions --data_dir DIR` on a machine "
        "that can download it, or use data.source: coco with the COCO JSON files."
    )
    if data_dir and not (Path(data_dir) / "coco_captions").is_dir():
        # Checked here: tfds.load takes seconds to say the same.
        raise FileNotFoundError(
            f"{data_dir}: TFDS coco_captions is not prepared there (no "
            f"coco_captions/ folder). {hint}"
        )
    names = {"train": "train", "valid": "val", "test": "test"}
    splits = {}
    for split, tfds_split in names.items():
        try:
            ds = tfds.load(
                "coco_captions",
                split=tfds_split if not limit else f"{tfds_split}[:{limit}]",
                data_dir=data_dir,
                download=False,
                decoders={"image": tfds.decode.SkipDecoding()},
            )
        except Exception as e:  # noqa: BLE001 -- TFDS raises several types
            raise FileNotFoundError(
                f"{data_dir or '~/tensorflow_datasets'}: TFDS coco_captions is not "
                f"prepared there ({type(e).__name__}: {str(e).splitlines()[0][:200]}). "
                + hint
            ) from None
        part = CaptionSplit(images=[], captions=[], names=[])
        for example in ds.as_numpy_iterator():
            texts = [t.decode("utf-8") for t in example["captions"]["text"]]
            part.images.append(bytes(example["image"]))
            part.captions.append(texts)
            name = example.get("image/filename", b"")
            part.names.append(name.decode("utf-8") if isinstance(name, bytes) else "")
        splits[split] = part
    return CaptionData(splits, _summary("coco_tfds", splits, data_dir=data_dir))


# ----------------------------------------------------------------------------- folder


@SOURCES.register("folder")
def load_folder(path: str | None = None, captions: str = "captions.tsv") -> CaptionData:
    """Images plus a `captions.tsv` of `relative/path.jpg<TAB>caption` lines."""
    folder = require_dir(path, "folder")
    tsv = require_file(folder / captions, "folder", "captions file")
    by_image: dict[str, list[str]] = defaultdict(list)
    for number, line in enumerate(tsv.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        name, sep, caption = line.partition("\t")
        if not sep or not name.strip() or not caption.strip():
            raise ValueError(
                f"{tsv}:{number + 1}: expected relative/path.jpg<TAB>caption, "
                f"got {line[:80]!r}"
            )
        by_image[name.strip()].append(caption.strip())
    lists = {s: folder / f"{s}.txt" for s in SPLITS}
    if any(p.exists() for p in lists.values()):
        split_of = {}
        for split, list_file in lists.items():
            for name in (
                require_file(list_file, "folder", "split list").read_text().split()
            ):
                split_of[name] = split
    else:
        split_of = {name: md5_split(name) for name in by_image}
    skipped = {"captions_without_image": 0, "images_not_in_a_split": 0}
    splits = {s: CaptionSplit(images=[], captions=[], names=[]) for s in SPLITS}
    for name in sorted(by_image):
        image = folder / name
        if not image.is_file():
            skipped["captions_without_image"] += len(by_image[name])
            continue
        if name not in split_of:
            skipped["images_not_in_a_split"] += 1
            continue
        part = splits[split_of[name]]
        part.images.append(str(image))
        part.captions.append(by_image[name])
        part.names.append(name)
    skipped["unreadable_images"] = drop_unreadable("folder", splits.values())
    if skipped["captions_without_image"]:
        warnings.warn(
            f"{tsv}: skipped {skipped['captions_without_image']} captions whose "
            "image is missing",
            stacklevel=2,
        )
    return CaptionData(splits, _summary("folder", splits, skipped=skipped))


# ----------------------------------------------------------------------------- shapes


@SOURCES.register("shapes")
def load_shapes(
    path: str | None = None,
    train: int = 6000,
    valid: int = 500,
    test: int = 500,
    size: int = 64,
    max_shapes: int = 3,
    seed: int = 0,
) -> CaptionData:
    """Synthetic scenes (see apps/captioning/shapes.py); `path` is not used."""
    from lstmsuite.apps.captioning.shapes import SPLIT_SEEDS, render_split

    counts = {"train": train, "valid": valid, "test": test}
    splits = {}
    for split, count in counts.items():
        images, captions, _ = render_split(
            count,
            seed=SPLIT_SEEDS[split] + 1000 * seed,
            size=size,
            max_shapes=max_shapes,
        )
        names = [f"{split}-{i:05d}" for i in range(count)]
        splits[split] = CaptionSplit(images=images, captions=captions, names=names)
    return CaptionData(splits, _summary("shapes", splits, synthetic=True))


def load(data_cfg) -> CaptionData:
    """The configured source, with config-level error messages."""
    return load_source(SOURCES, data_cfg)


def fingerprint(split: CaptionSplit) -> str:
    """A short hash of a split's images (paths and sizes/mtimes, or pixels)."""
    digest = hashlib.md5()
    if isinstance(split.images, np.ndarray):
        digest.update(split.images.tobytes())
    else:
        for image in split.images:
            if isinstance(image, bytes):
                digest.update(hashlib.md5(image).digest())
            else:
                stat = os.stat(image)
                digest.update(f"{image}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]
