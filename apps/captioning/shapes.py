"""The `shapes` data source: synthetic scenes of coloured shapes with template captions.

    from lstmsuite.apps.captioning.shapes import render_split
    images, captions, scenes = render_split(count=4, seed=3)
    captions[0]
    # ['a large blue square above a small red circle',
    #  'there is a large blue square above a small red circle',
    #  'a small red circle below a large blue square']

This is *synthetic* data, drawn with Pillow, so that the app trains, evaluates and is
tested on a fresh machine with no download. It is not a stand-in for real captioning
quality; it checks that the model can read colour, size, shape and layout and say it.

A scene holds one to three shapes (circle, square, triangle), each with a colour
(red, green, blue, yellow), a size (small, large) and a cell of a 3x3 grid (no two in
one cell), drawn at a small random offset inside its cell. The shapes are described
in reading order (top to bottom, left to right), and each scene gets three reference
captions from templates:

* one shape: "a small red circle in the top left", "there is a small red circle in
  the top left", "a small red circle in the top left of the picture";
* two shapes A, B: "a A above a B" (or "to the left of" when they share a row),
  "there is a A above a B", "a B below a A";
* three: "a A a B and a C", "three shapes a A a B and a C", "a A above a B and a C".

Each split has its own fixed seed (train 1, valid 2, test 3, plus the `seed` option),
so the same options always give the same scenes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLORS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 235),
    "yellow": (235, 215, 40),
}
SIZES = {"small": 0.085, "large": 0.15}  # radius as a fraction of the image side
GRID = 3
PLACES = {
    (0, 0): "in the top left",
    (0, 1): "at the top",
    (0, 2): "in the top right",
    (1, 0): "on the left",
    (1, 1): "in the center",
    (1, 2): "on the right",
    (2, 0): "in the bottom left",
    (2, 1): "at the bottom",
    (2, 2): "in the bottom right",
}
SPLIT_SEEDS = {"train": 1, "valid": 2, "test": 3}


@dataclass(frozen=True)
class Shape:
    kind: str
    color: str
    size: str
    row: int
    col: int

    @property
    def words(self) -> str:
        return f"{self.size} {self.color} {self.kind}"


def relation(a: Shape, b: Shape) -> tuple[str, str]:
    """How `a` (earlier in reading order) stands to `b`, and the inverse."""
    if a.row < b.row:
        return "above", "below"
    return "to the left of", "to the right of"


def captions_of(scene: list[Shape]) -> list[str]:
    """The three reference captions of a scene (shapes in reading order)."""
    if len(scene) == 1:
        (a,) = scene
        place = PLACES[(a.row, a.col)]
        return [
            f"a {a.words} {place}",
            f"there is a {a.words} {place}",
            f"a {a.words} {place} of the picture",
        ]
    if len(scene) == 2:
        a, b = scene
        rel, inverse = relation(a, b)
        return [
            f"a {a.words} {rel} a {b.words}",
            f"there is a {a.words} {rel} a {b.words}",
            f"a {b.words} {inverse} a {a.words}",
        ]
    a, b, c = scene[:3]
    rel, _ = relation(a, b)
    return [
        f"a {a.words} a {b.words} and a {c.words}",
        f"three shapes a {a.words} a {b.words} and a {c.words}",
        f"a {a.words} {rel} a {b.words} and a {c.words}",
    ]


def random_scene(rng: np.random.Generator, max_shapes: int = 3) -> list[Shape]:
    count = int(rng.integers(1, max_shapes + 1))
    cells = rng.choice(GRID * GRID, size=count, replace=False)
    scene = [
        Shape(
            kind=SHAPES[rng.integers(len(SHAPES))],
            color=list(COLORS)[rng.integers(len(COLORS))],
            size=list(SIZES)[rng.integers(len(SIZES))],
            row=int(cell) // GRID,
            col=int(cell) % GRID,
        )
        for cell in cells
    ]
    return sorted(scene, key=lambda s: (s.row, s.col))


def draw_scene(scene: list[Shape], rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size, 3) uint8: the shapes on a dark background."""
    from PIL import Image, ImageDraw

    background = tuple(int(v) for v in rng.integers(0, 40, size=3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    cell = size / GRID
    for shape in scene:
        radius = SIZES[shape.size] * size
        slack = max(cell / 2 - radius - 1, 0)
        cx = (shape.col + 0.5) * cell + rng.uniform(-slack, slack)
        cy = (shape.row + 0.5) * cell + rng.uniform(-slack, slack)
        jitter = rng.integers(-20, 21, size=3)
        color = tuple(
            int(np.clip(c + j, 0, 255)) for c, j in zip(COLORS[shape.color], jitter)
        )
        if shape.kind == "circle":
            draw.ellipse(
                [cx - radius, cy - radius, cx + radius, cy + radius], fill=color
            )
        elif shape.kind == "square":
            half = radius * 0.85
            draw.rectangle([cx - half, cy - half, cx + half, cy + half], fill=color)
        else:
            draw.polygon(
                [
                    (cx, cy - radius),
                    (cx - radius, cy + radius * 0.8),
                    (cx + radius, cy + radius * 0.8),
                ],
                fill=color,
            )
    return np.asarray(image, dtype=np.uint8)


def render_split(
    count: int, seed: int, size: int = 64, max_shapes: int = 3
) -> tuple[np.ndarray, list[list[str]], list[list[Shape]]]:
    """`count` scenes: images (count, size, size, 3) uint8, captions, scenes."""
    if count < 1:
        raise ValueError(f"shapes: a split needs at least one scene, got {count}")
    if not 1 <= max_shapes <= 3:
        raise ValueError(f"shapes: max_shapes must be 1, 2 or 3, got {max_shapes}")
    rng = np.random.default_rng(seed)
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    captions, scenes = [], []
    for i in range(count):
        scene = random_scene(rng, max_shapes)
        images[i] = draw_scene(scene, rng, size)
        captions.append(captions_of(scene))
        scenes.append(scene)
    return images, captions, scenes
