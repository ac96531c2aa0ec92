"""Build the small sample data sets that the ``smoke`` profile reads from ``data/samples/``.

    python -m course.samples            # rebuild every sample (needs the real files)
    python -m course.samples reviews nonfaces   # only the ones written by the project

Each sample has the path and format of the real file it stands for, so every loader reads it
unchanged (``course.fetch`` picks it for the smoke profile). Where the licence allows, a sample
is a slice of the real file, taken from ``$DL_DATA_DIR`` or ``data/`` (or downloaded); where it
is unclear (IMDB states none, Tiny ImageNet is for non-commercial use), the project writes its
own stand-ins: template reviews and drawn textures. ``data/samples/README.md`` lists sources and
licences. Everything is seeded, so a rebuild gives the same arrays and texts.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from course.atomic import atomic_path, atomic_write_bytes
from course.fetch import SAMPLES_DIR, fetch

SEED = 20261201


# ---- MNIST: a slice of the real file (CC BY-SA 3.0) -------------------------------------------
# load_mnist validates on the last training images and trains on the first ones, so the sample
# keeps both ends: a smoke run sees the same digits as it would in the full file.
MNIST_TRAIN_HEAD, MNIST_TRAIN_TAIL, MNIST_TEST = 1_000, 200, 500


def build_mnist(out_dir: Path) -> Path:
    """The first 1,000 and last 200 training digits and the first 500 test digits."""
    from cnn_digits.data import MNIST

    with np.load(fetch(MNIST, profile="cpu"), allow_pickle=False) as real:
        num_train = len(real["y_train"])
        keep = np.r_[0:MNIST_TRAIN_HEAD, num_train - MNIST_TRAIN_TAIL : num_train]
        arrays = {
            "x_train": real["x_train"][keep],
            "y_train": real["y_train"][keep],
            "x_test": real["x_test"][:MNIST_TEST],
            "y_test": real["y_test"][:MNIST_TEST],
        }
    return _save_npz(out_dir / MNIST.relpath, arrays)


# ---- Irish tunes: the whole corpus (MIT licence, 198 KB) --------------------------------------
def build_tunes(out_dir: Path) -> Path:
    """The 804-tune ``irish.abc`` copied byte for byte."""
    from rnn_music.data import IRISH_ABC

    corpus = fetch(IRISH_ABC, profile="cpu").read_bytes()
    return atomic_write_bytes(out_dir / IRISH_ABC.relpath, corpus)


# ---- Movie reviews: written by templates (IMDB states no licence) ----------------------------
REVIEWS_PER_LABEL = {"train": 450, "test": 150}
REVIEWS_PER_FILM = 5  # consecutive ids share a film, as in aclImdb (validation holds out films)

_TITLE_WORDS = (
    "Silent", "River", "Midnight", "Glass", "Harbor", "Copper", "Winter", "Garden", "Broken",
    "Signal", "Paper", "Crown", "Distant", "Orchard", "Velvet", "Engine", "Lantern", "Summer",
)
_GENRES = ("thriller", "comedy", "drama", "western", "musical", "horror film", "romance")
_ASPECTS = (
    "acting", "script", "soundtrack", "pacing", "ending", "camera work", "dialogue", "plot",
    "lead performance", "supporting cast", "editing", "set design",
)
_PRAISE = (
    "wonderful", "moving", "clever", "beautiful", "superb", "funny", "gripping", "brilliant",
    "charming", "memorable", "excellent", "touching",
)
_BLAME = (
    "dull", "clumsy", "boring", "awful", "predictable", "weak", "silly", "terrible", "flat",
    "forgettable", "painful", "lazy",
)
_OPENERS = (
    "I saw {title} last weekend.",
    "{title} is a {genre} that I had wanted to see for years.",
    "My friends took me to {title}, a {genre}.",
    "I rented {title} without knowing much about it.",
    "So {title} finally came out on video.",
)
_FOR = {
    1: (
        "The {aspect} is {good}.",
        "I loved the {aspect}; it is {good} from start to finish.",
        "What a {good} {genre}!",
        "Everyone in the cast is {good}, especially in the last act.",
        "I would happily watch it again.",
        "The {aspect} alone makes it worth your time.",
    ),
    0: (
        "The {aspect} is {bad}.",
        "I hated the {aspect}; it is {bad} from start to finish.",
        "What a {bad} {genre}!",
        "Nobody in the cast can save a {bad} {aspect}.",
        "I would not watch it again.",
        "The {aspect} alone is a waste of your time.",
    ),
}
# A turn decides the review: the first clause says the opposite of the verdict.
_TURNS = {
    1: "The {aspect} is {bad} at first, but the {aspect2} is so {good} that I forgave it.",
    0: "The {aspect} looks {good} at first, but the {aspect2} is so {bad} that nothing helps.",
}
_VERDICTS = {1: ("Recommended.", "A real gem?  Yes!", "Go and see it."),
             0: ("Avoid it.", "Was it worth it?  No.", "Skip this one.")}


def write_review(rng: np.random.Generator, label: int, title: str, genre: str) -> str:
    """One review of ``title``: an opener, three to six sentences for ``label``, a verdict."""
    def pick(options):
        return options[rng.integers(len(options))]

    def fill(template: str) -> str:
        aspect, aspect2 = rng.choice(len(_ASPECTS), size=2, replace=False)
        return template.format(
            title=title, genre=genre, aspect=_ASPECTS[aspect], aspect2=_ASPECTS[aspect2],
            good=pick(_PRAISE), bad=pick(_BLAME),
        )

    sentences = [fill(pick(_OPENERS))]
    sentences += [fill(pick(_FOR[label])) for _ in range(rng.integers(3, 7))]
    if rng.random() < 0.4:
        sentences.insert(rng.integers(1, len(sentences) + 1), fill(_TURNS[label]))
    sentences.append(pick(_VERDICTS[label]))
    # aclImdb keeps the site's line breaks as HTML tags; the tokenizer must remove them.
    breaker = " <br /><br />" if rng.random() < 0.3 else " "
    return breaker.join(sentences[:2]) + " " + " ".join(sentences[2:])


def review_rows(seed: int = SEED) -> list[list]:
    """Rows ``text,label,split,id,rating`` ordered like the real CSV (split, label, id)."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, count in REVIEWS_PER_LABEL.items():
        for label in (0, 1):
            for review_id in range(count):
                if review_id % REVIEWS_PER_FILM == 0:
                    words = rng.choice(len(_TITLE_WORDS), size=2, replace=False)
                    title = "The " + " ".join(_TITLE_WORDS[w] for w in words)
                    genre = _GENRES[rng.integers(len(_GENRES))]
                rating = int(rng.integers(7, 11) if label else rng.integers(1, 5))
                text = write_review(rng, label, title, genre)
                rows.append([text, label, split, review_id, rating])
    return rows


def build_reviews(out_dir: Path) -> Path:
    """``imdb/imdb_reviews.csv.gz`` with 1,200 template reviews (gzip with mtime 0)."""
    from rnn_sentiment.data import CSV_COLUMNS, IMDB_CSV

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(review_rows())
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", compresslevel=9, mtime=0) as zipped:
        zipped.write(text.getvalue().encode("utf-8"))
    return atomic_write_bytes(out_dir / IMDB_CSV.relpath, packed.getvalue())


# ---- Faces: a slice of FairFace (CC BY 4.0, adapted) ------------------------------------------
# Training faces per race group and FairFace-val faces per race group, half of each gender. The
# smoke profile draws its skewed and balanced sets from them by skin tone (vae_faces.skin_tone):
# the 250 training faces hold 46-81 per tone group, enough for both.
FACES_TRAIN = {"White": 100}
FACES_TRAIN_OTHERS = 25
FACES_VAL = 20


def build_faces(out_dir: Path) -> Path:
    """A few hundred FairFace faces, JPEG bytes copied unchanged, in the real file's order."""
    from vae_faces.config import RACES
    from vae_faces.data import FAIRFACE, locate

    rng = np.random.default_rng(SEED)
    with np.load(locate(FAIRFACE, profile="cpu"), allow_pickle=False) as real:
        race, gender, split = real["faces_race"], real["faces_gender"], real["faces_split"]
        chosen = []
        for group in RACES:
            wanted = {"train": FACES_TRAIN.get(group, FACES_TRAIN_OTHERS), "val": FACES_VAL}
            for part, count in wanted.items():
                for sex, share in (("Male", count // 2), ("Female", count - count // 2)):
                    pool = np.flatnonzero((race == group) & (split == part) & (gender == sex))
                    chosen.append(rng.choice(pool, size=share, replace=False))
        keep = np.sort(np.concatenate(chosen))
        labels = {key: real[key][keep] for key in real.files if key.startswith("faces_")}
        images = [real["jpeg"][real["offsets"][i] : real["offsets"][i + 1]] for i in keep]
    return _save_jpeg_npz(out_dir / FAIRFACE.relpath, images, labels)


# ---- Non-faces: drawn by the project (Tiny ImageNet is for non-commercial use) ---------------
NUM_NONFACES = 360


def draw_nonface(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One 64x64 RGB texture with no face in it: blotches, stripes or shapes, with grain."""
    from PIL import Image, ImageDraw

    kind = ("blotches", "stripes", "shapes")[rng.integers(3)]
    if kind == "blotches":
        coarse = rng.uniform(0, 255, size=(rng.integers(3, 9),) * 2 + (3,)).astype("uint8")
        image = Image.fromarray(coarse).resize((64, 64), Image.Resampling.BICUBIC)
    elif kind == "stripes":
        y, x = np.mgrid[0:64, 0:64] / 64.0
        angle, frequency = rng.uniform(0, np.pi), rng.uniform(2, 12)
        wave = np.sin(2 * np.pi * frequency * (x * np.cos(angle) + y * np.sin(angle)))
        low, high = rng.uniform(0, 255, size=(2, 3))
        pixels = low + (high - low) * (wave[..., None] + 1) / 2
        image = Image.fromarray(pixels.astype("uint8"))
    else:
        image = Image.new("RGB", (64, 64), tuple(int(v) for v in rng.integers(0, 256, 3)))
        pen = ImageDraw.Draw(image)
        for _ in range(rng.integers(2, 7)):
            corners = sorted(rng.integers(-8, 72, 2)), sorted(rng.integers(-8, 72, 2))
            box = (corners[0][0], corners[1][0], corners[0][1] + 4, corners[1][1] + 4)
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            (pen.rectangle if rng.random() < 0.5 else pen.ellipse)(box, fill=fill)
    grain = rng.normal(0, 3, size=(64, 64, 3))
    return np.clip(np.asarray(image, "float32") + grain, 0, 255).astype("uint8"), kind


def build_nonfaces(out_dir: Path) -> Path:
    """``NUM_NONFACES`` drawn textures stored like the Tiny ImageNet non-faces file."""
    from PIL import Image

    from vae_faces.data import TINYIMAGENET

    rng = np.random.default_rng(SEED)
    images, kinds = [], []
    for _ in range(NUM_NONFACES):
        pixels, kind = draw_nonface(rng)
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=85)
        images.append(np.frombuffer(buffer.getvalue(), np.uint8))
        kinds.append(kind)
    kinds = np.array(kinds)
    labels = {
        "nonfaces_wnid": np.full(NUM_NONFACES, "synthetic"),
        "nonfaces_class": kinds,
        "nonfaces_split": np.where(np.arange(NUM_NONFACES) % 2 == 0, "train", "val"),
        "nonfaces_file": np.array([f"drawn/{i:03d}.jpg" for i in range(NUM_NONFACES)]),
    }
    return _save_jpeg_npz(out_dir / TINYIMAGENET.relpath, images, labels)


# ---- MIT lab test faces: the 20 PNGs shrunk to 64x64 (MIT licence) ---------------------------
def build_test_faces(out_dir: Path) -> list[Path]:
    """The MIT lab's 20 test faces as 64x64 RGB PNGs (the originals are up to 644x644)."""
    from PIL import Image

    from vae_faces.data import mit_test_face_files

    written = []
    for remote in mit_test_face_files():
        with Image.open(fetch(remote, profile="cpu", progress=False)) as image:
            small = image.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS)
        with atomic_path(out_dir / remote.relpath) as tmp:
            small.save(tmp, "PNG", optimize=True)
        written.append(out_dir / remote.relpath)
    return written


# ---- Writers ---------------------------------------------------------------------------------
def _save_npz(path: Path, arrays: dict) -> Path:
    with atomic_path(path) as tmp, open(tmp, "wb") as out:
        np.savez_compressed(out, **arrays)
    return path


def _save_jpeg_npz(path: Path, images: list[np.ndarray], labels: dict) -> Path:
    sizes = [len(image) for image in images]
    arrays = {
        "jpeg": np.concatenate(images).astype(np.uint8),
        "offsets": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        **labels,
    }
    return _save_npz(path, arrays)


BUILDERS: dict[str, Callable[[Path], object]] = {
    "mnist": build_mnist,
    "tunes": build_tunes,
    "reviews": build_reviews,
    "faces": build_faces,
    "nonfaces": build_nonfaces,
    "test_faces": build_test_faces,
}
# The samples the project writes itself: they need no real data to rebuild.
GENERATED = ("reviews", "nonfaces")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("samples", nargs="*", help=f"any of {', '.join(BUILDERS)} (default: all)")
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR, help="default: data/samples")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.samples) - set(BUILDERS))
    if unknown:
        parser.error(f"unknown samples {unknown}; choose among {', '.join(BUILDERS)}")
    for name in args.samples or BUILDERS:
        print(f"building {name} ...", flush=True)
        BUILDERS[name](args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
