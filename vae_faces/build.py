"""Build the chapter's two data files from public downloads, once (``vae_faces.data.locate``).

    python -m vae_faces.build [--only faces|nonfaces] [--cache-dir data]

- ``faces/fairface_faces_64_jpeg.npz``: FairFace (Karkkainen & Joo, WACV 2021; CC BY 4.0), its
  padding-0.25 images and labels as the Hugging Face parquet copy ``HuggingFaceM4/FairFace``,
  pinned to one revision and each file's sha256 (about 563 MB).
- ``faces/tinyimagenet_nonfaces_64_jpeg.npz``: Tiny ImageNet (Stanford CS231N, for
  non-commercial research and education), the original zip, sha256 pinned (248 MB).

Downloads go through ``course.fetch`` (``$DL_DATA_DIR``, then ``data/``, then the URL; verified
while streaming) into ``data/downloads/``; each built file is written under ``data/faces/``
only after its structure and counts were checked. Images are stored as in the course's shared
copy (SOURCES.md, section 4): 64x64 RGB, LANCZOS-resized, JPEG quality 95 without chroma
subsampling, joined in one uint8 buffer with an offsets array; labels as fixed-width strings.

The selection follows the shared copy's rules:
- faces: 7 races x 2 genders; per cell 1,300 FairFace-train and 150 FairFace-val faces, drawn
  from each cell's pool (sorted by file number) with one seeded generator, in file order (split,
  race, gender, number). Photos whose bytes occur more than once in the release (some with
  conflicting labels, some across train and val) are never drawn.
- non-faces: the 134 classes left after dropping 66 person-centric ones; 151 or 152 images per
  class (20,300 in all, the 152s drawn by seed): all 50 of the class's val images, topped up
  with train images in a seeded order.

Two steps of the shared copy are not repeated; they need OpenCV and hours of CPU:
- its near-duplicate scan of the faces (re-cropped and recoloured copies, linked by normalised
  cross-correlation). It excluded about 2% of the images it scanned, so about 2% of the built
  faces may have a near-copy in the file, a few of them across FairFace train and val;
- its Haar face filter on the non-faces, which dropped 6-7% of the images it tested (faces and
  false alarms). Expect a few % more non-faces that show a face.
The draws also differ (the shared copy kept earlier versions' images and drew from the first
40,000 train and 5,000 val images only), so a built file is not byte-identical to it; the
chapter's groups and splits are the same, its sizes within 3 faces, and so is what its
results mean.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from course.atomic import atomic_path
from course.fetch import DataFileError, RemoteFile, default_cache_dir, fetch
from vae_faces.config import RACES
from vae_faces.data import FACE_LABELS, FAIRFACE, NONFACE_LABELS, TINYIMAGENET, check_jpeg_npz

SIZE = 64
GENDERS = ("Male", "Female")
TRAIN_PER_CELL = 1_300  # FairFace-train faces per race x gender cell
VAL_PER_CELL = 150  # FairFace-val faces per cell: 300 per race group, the evaluation set
NUM_NONFACES = 20_300  # 134 classes x 151, plus one more in 66 of them
FACES_SEED, NONFACES_SEED = 6194, 6195  # the shared copy's last seeds for these draws

# ---- FairFace: the Hugging Face parquet release of padding 0.25 -----------------------------
# Revision and sha256s as the dataset's pages publish them (commit pages show each file's Git
# LFS pointer: sha256 and size). The card of this revision names the class labels below.
FAIRFACE_REVISION = "54d573cdb8b5af490ba8da9da2799628f6e5c496"
_FAIRFACE_URL = (
    f"https://huggingface.co/datasets/HuggingFaceM4/FairFace/resolve/{FAIRFACE_REVISION}/0.25/"
)
FAIRFACE_DOWNLOAD_BYTES = 563_437_634  # the card's download_size of config 0.25: all 3 files
FAIRFACE_ROWS = {"train": 86_744, "val": 10_954}  # the card's num_examples
# ClassLabel names, in the order of their integer codes (dataset card, config 0.25).
AGE_NAMES = ("0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70")
GENDER_NAMES = ("Male", "Female")
RACE_NAMES = (
    "East Asian", "Indian", "Black", "White", "Middle Eastern", "Latino_Hispanic",
    "Southeast Asian",
)
LABEL_NAMES = {"age": AGE_NAMES, "gender": GENDER_NAMES, "race": RACE_NAMES}


def check_fairface_parquet(path: Path) -> None:
    """Accept a parquet file with FairFace's columns: ``image`` (struct with bytes) and labels."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file; all mean "bad"
        raise DataFileError(f"{Path(path).name} is not a readable parquet file ({exc}).") from exc
    missing = {"image", *LABEL_NAMES} - set(schema.names)
    image = schema.field("image").type if "image" in schema.names else None
    if missing or not pa.types.is_struct(image) or image.get_field_index("bytes") < 0:
        raise DataFileError(
            f"{Path(path).name} is not FairFace's parquet release: it needs the columns image "
            f"(with bytes) and {', '.join(LABEL_NAMES)}; it has {schema.names}."
        )
    features = json.loads((schema.metadata or {}).get(b"huggingface", b"{}"))
    features = features.get("info", {}).get("features", {})
    for column, names in LABEL_NAMES.items():
        published = features.get(column, {}).get("names")
        if published is not None and tuple(published) != names:
            raise DataFileError(
                f"{Path(path).name}: the {column} labels are {published}, not the {list(names)} "
                "this build maps them to; the release has changed."
            )


def _fairface_file(name: str, sha256: str, size: int | None) -> RemoteFile:
    return RemoteFile(
        relpath=f"downloads/fairface-0.25/{name}",
        url=_FAIRFACE_URL + name,
        sha256=sha256,
        check=check_fairface_parquet,
        size=size,
    )


FAIRFACE_PARQUETS = {
    "train": (
        _fairface_file(
            "train-00000-of-00002-d405faba4f4b9b85.parquet",
            "acebfc4a735050d0ee618b3c690ad91e1b11bcc25151f398f06990bc15e99d06",
            # not on its page: the card's download size less the other two files'
            FAIRFACE_DOWNLOAD_BYTES - 250_217_804 - 63_189_799,
        ),
        _fairface_file(
            "train-00001-of-00002-dd3cb68164727418.parquet",
            "e8ec1fb27f0745c166b218708bf4923811cd41d85cb998f09f8f624b0eb40326", 250_217_804,
        ),
    ),
    "val": (
        _fairface_file(
            "validation-00000-of-00001-951dbd63c8724ee1.parquet",
            "d0cfac2888356b3d3fa3d837bc30961d8c860934e4c5df862e8cb87812bfa137", 63_189_799,
        ),
    ),
}


# ---- Tiny ImageNet: the original zip ----------------------------------------------------------
def check_tinyimagenet_zip(path: Path) -> None:
    """Accept a zip whose top folder holds Tiny ImageNet's wnids.txt."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataFileError(f"{Path(path).name} is not a readable zip ({exc}).") from exc
    if not any(name.endswith("/wnids.txt") for name in names):
        raise DataFileError(f"{Path(path).name} has no wnids.txt: is it tiny-imagenet-200.zip?")


# The sha256 is the one recorded by several projects that download this URL; its published MD5
# is 90528d7ca1a48142e341f4ef8d21d0de (torchvision-style loaders pin it), size 248,100,043.
TINYIMAGENET_ZIP = RemoteFile(
    relpath="downloads/tiny-imagenet-200.zip",
    url="http://cs231n.stanford.edu/tiny-imagenet-200.zip",
    sha256="6198c8ae015e2b3e007c7841da39ec069199b9aa3bfa943a462022fe5e43c821",
    check=check_tinyimagenet_zip,
    size=248_100_043,
)

# Tiny ImageNet classes whose pictures usually show people (first name in words.txt).
PERSON_CLASSES = frozenset({
    "Christmas stocking", "academic gown", "altar", "apron", "baboon", "backpack", "barbershop",
    "basketball", "bikini", "binoculars", "bow tie", "bullet train", "butcher shop", "cardigan",
    "cash machine", "chimpanzee", "comic book", "computer keyboard", "confectionery", "crane",
    "desk", "dining table", "drumstick", "dumbbell", "flagpole", "fountain", "fur coat",
    "gasmask", "go-kart", "gondola", "iPod", "ice cream", "ice lolly", "jinrikisha", "kimono",
    "lakeside", "lifeboat", "maypole", "military uniform", "miniskirt", "neck brace", "oboe",
    "orangutan", "pay-phone", "police van", "poncho", "potter's wheel", "punching bag",
    "remote control", "rugby ball", "sandal", "school bus", "scoreboard", "seashore",
    "sewing machine", "snorkel", "sock", "sombrero", "sunglasses", "swimming trunks", "teddy",
    "torch", "triumphal arch", "umbrella", "vestment", "volleyball",
})


# ---- Shared steps -----------------------------------------------------------------------------
def encode_jpeg(data: bytes) -> bytes:
    """Any image file's bytes -> a 64x64 RGB JPEG (quality 95, 4:4:4), as in the shared copy."""
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
    if rgb.size != (SIZE, SIZE):
        rgb = rgb.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=95, subsampling=0, optimize=True)
    return out.getvalue()


def _number(name: str) -> int:
    found = re.findall(r"\d+", Path(name).stem)
    return int(found[-1]) if found else 0


def _save(path: Path, jpegs: list[bytes], labels: dict[str, np.ndarray], label_keys,
          counts: dict[str, dict[str, int]]) -> Path:
    """Write the npz atomically, once the written file passes its structural check and holds
    ``counts[key][value]`` images labelled ``value`` in array ``key``."""
    offsets = np.zeros(len(jpegs) + 1, dtype="int64")
    offsets[1:] = np.cumsum([len(j) for j in jpegs])
    buffer = np.frombuffer(b"".join(jpegs), dtype="uint8")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, jpeg=buffer, offsets=offsets, **labels)
        check_jpeg_npz(tmp, label_keys)
        with np.load(tmp, allow_pickle=False) as written:
            for key, expected in counts.items():
                found = dict(Counter(written[key].tolist()))
                if found != expected:
                    raise DataFileError(f"{path.name}: {key} counts {found}, expected {expected}.")
    return path


# ---- Faces ------------------------------------------------------------------------------------
def read_fairface(parquets: dict[str, list[Path]]) -> dict[str, np.ndarray]:
    """One row per image of the release: split, file, race, gender, age, source, row, digest.

    ``source`` (index into the files in ``parquets`` order) and ``row`` locate the image for
    ``fairface_images``; ``digest`` (of its bytes) finds repeated photos. Raises DataFileError
    when a split's row count, columns or labels are not FairFace's.
    """
    import pyarrow.parquet as pq

    columns = {key: [] for key in ("split", "file", *LABEL_NAMES, "source", "row", "digest")}
    source = 0
    for split, paths in parquets.items():
        rows = sum(pq.ParquetFile(path).metadata.num_rows for path in paths)
        if rows != FAIRFACE_ROWS[split]:
            raise DataFileError(
                f"FairFace {split} has {rows} rows in {', '.join(p.name for p in paths)}, not the "
                f"{FAIRFACE_ROWS[split]} of the release: a truncated or different file. Delete "
                f"{', '.join(str(p) for p in paths)} and run again to download it afresh."
            )
        columns["split"] += [split] * rows
        position = 0  # images of the split so far; FairFace numbers them from 1, in this order
        for path in paths:
            check_fairface_parquet(path)
            row = 0
            for batch in pq.ParquetFile(path).iter_batches(2048, columns=["image", *LABEL_NAMES]):
                for column, names in LABEL_NAMES.items():
                    codes = batch.column(column).to_numpy(zero_copy_only=False)
                    if batch.column(column).null_count or not np.all(
                        (codes >= 0) & (codes < len(names))
                    ):
                        raise DataFileError(f"{path.name}: column {column!r} holds codes "
                                            f"outside 0..{len(names) - 1}.")
                    columns[column] += [names[code] for code in codes]
                images = batch.column("image")
                has_path = images.type.get_field_index("path") >= 0
                paths_in = images.field("path").to_pylist() if has_path else [None] * len(batch)
                for data, name in zip(images.field("bytes").to_pylist(), paths_in, strict=True):
                    position += 1
                    if data is None:
                        raise DataFileError(f"{path.name}: row {row} has no image bytes.")
                    # The release keeps each image's file name ('123.jpg'); else its position.
                    file = Path(name).name if name else f"{position}.jpg"
                    columns["file"].append(f"{split}/{file}")
                    columns["digest"].append(hashlib.blake2b(data, digest_size=16).hexdigest())
                    columns["source"].append(source)
                    columns["row"].append(row)
                    row += 1
            source += 1
    return {key: np.array(values) for key, values in columns.items()}


def select_faces(rows: dict[str, np.ndarray], train_per_cell: int, val_per_cell: int,
                 seed: int) -> np.ndarray:
    """Indices of the drawn faces, in file order: split, race, gender, file number."""
    repeated = {digest for digest, count in Counter(rows["digest"].tolist()).items() if count > 1}
    unique = np.array([digest not in repeated for digest in rows["digest"].tolist()], dtype=bool)
    number = np.array([_number(name) for name in rows["file"]])
    rng = np.random.default_rng(seed)
    chosen = []
    for split, per_cell in (("train", train_per_cell), ("val", val_per_cell)):
        for race in RACES:
            for gender in GENDERS:
                pool = np.flatnonzero((rows["split"] == split) & (rows["race"] == race)
                                      & (rows["gender"] == gender) & unique)
                if len(pool) < per_cell:
                    raise DataFileError(
                        f"FairFace {split} has {len(pool)} faces of {race}/{gender} (photos that "
                        f"occur once), fewer than the {per_cell} to draw."
                    )
                pool = pool[np.argsort(number[pool], kind="stable")]
                chosen.append(pool[np.sort(rng.choice(len(pool), size=per_cell, replace=False))])
    return np.concatenate(chosen)


def fairface_images(sources: list[Path], rows: dict[str, np.ndarray], chosen: np.ndarray,
                    progress: bool = True) -> list[bytes]:
    """The chosen images as 64x64 JPEGs, in ``chosen`` order, reading each parquet file once."""
    import pyarrow.parquet as pq

    wanted = {(int(rows["source"][i]), int(rows["row"][i])): k for k, i in enumerate(chosen)}
    jpegs: list[bytes] = [b""] * len(chosen)
    with tqdm(total=len(chosen), desc="faces to 64x64 JPEG", unit="img",
              disable=not progress) as bar:
        for source, path in enumerate(sources):
            row = 0
            for batch in pq.ParquetFile(path).iter_batches(2048, columns=["image"]):
                for data in batch.column("image").field("bytes").to_pylist():
                    if (source, row) in wanted:
                        jpegs[wanted[source, row]] = encode_jpeg(data)
                        bar.update()
                    row += 1
    return jpegs


def build_faces(out_path: Path, parquets: dict[str, list[Path]], train_per_cell: int | None = None,
                val_per_cell: int | None = None, seed: int = FACES_SEED,
                progress: bool = True) -> Path:
    """Draw the faces from FairFace's parquet files (by split) and write the faces npz."""
    train_per_cell = TRAIN_PER_CELL if train_per_cell is None else train_per_cell
    val_per_cell = VAL_PER_CELL if val_per_cell is None else val_per_cell
    rows = read_fairface(parquets)
    chosen = select_faces(rows, train_per_cell, val_per_cell, seed)
    sources = [path for paths in parquets.values() for path in paths]
    jpegs = fairface_images(sources, rows, chosen, progress)
    labels = {f"faces_{key}": rows[key][chosen] for key in ("race", "gender", "age", "split",
                                                            "file")}
    labels["faces_group"] = np.char.add(np.char.add(labels["faces_race"], "/"),
                                        labels["faces_gender"])
    counts = {
        "faces_split": {"train": len(RACES) * len(GENDERS) * train_per_cell,
                        "val": len(RACES) * len(GENDERS) * val_per_cell},
        "faces_group": {f"{r}/{g}": train_per_cell + val_per_cell
                        for r in RACES for g in GENDERS},
    }
    return _save(Path(out_path), jpegs, labels, FACE_LABELS, counts)


# ---- Non-faces --------------------------------------------------------------------------------
def build_nonfaces(out_path: Path, zip_path: Path, total: int | None = None,
                   seed: int = NONFACES_SEED, progress: bool = True) -> Path:
    """Non-faces from the Tiny ImageNet zip: person-centric classes dropped, an equal quota per
    kept class (sorted by wnid), filled with the class's val images, then seeded train images."""
    total = NUM_NONFACES if total is None else total
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        root = next((n[: -len("wnids.txt")] for n in names if n.endswith("/wnids.txt")), None)
        if root is None:
            raise DataFileError(f"{Path(zip_path).name} has no wnids.txt.")

        def read(member: str) -> str:
            return archive.read(root + member).decode()

        wnids = read("wnids.txt").split()
        words = dict(line.split("\t", 1) for line in read("words.txt").splitlines()
                     if "\t" in line)
        class_name = {w: words.get(w, w).split(",")[0].strip() for w in wnids}
        kept = sorted(w for w in wnids if class_name[w] not in PERSON_CLASSES)
        val_of: dict[str, list[str]] = {w: [] for w in kept}
        for line in read("val/val_annotations.txt").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] in val_of:
                val_of[parts[1]].append(f"val/images/{parts[0]}")
        train_of = {w: sorted((n[len(root):] for n in names if n.startswith(
            f"{root}train/{w}/images/") and n.endswith(".JPEG")), key=_number) for w in kept}
        capacity = sum(len(val_of[w]) + len(train_of[w]) for w in kept)
        if not kept or total > capacity:
            raise DataFileError(f"{Path(zip_path).name} holds {capacity} images of {len(kept)} "
                                f"non-person classes, fewer than the {total} asked for.")

        quota = np.full(len(kept), total // len(kept))
        quota[rng.choice(len(kept), size=total % len(kept), replace=False)] += 1
        val_files, train_files = [], []
        for wnid, count in zip(kept, quota, strict=True):
            val = sorted(val_of[wnid], key=_number)[:count]
            order = rng.permutation(len(train_of[wnid]))[: count - len(val)]
            if len(val) + len(order) < count:
                raise DataFileError(f"Tiny ImageNet class {wnid} has fewer than {count} images.")
            val_files += [(name, wnid) for name in val]
            train_files += [(train_of[wnid][i], wnid) for i in np.sort(order)]
        chosen = sorted(val_files, key=lambda item: _number(item[0])) + train_files
        jpegs = [encode_jpeg(archive.read(root + name))
                 for name, _ in tqdm(chosen, desc="non-faces to JPEG", unit="img",
                                     disable=not progress)]
    files = np.array([name for name, _ in chosen])
    wnid_of = np.array([wnid for _, wnid in chosen])
    labels = {
        "nonfaces_wnid": wnid_of,
        "nonfaces_class": np.array([class_name[w] for w in wnid_of]),
        "nonfaces_split": np.array([name.split("/")[0] for name in files]),
        "nonfaces_file": files,
    }
    counts = {"nonfaces_wnid": {w: q for w, q in zip(kept, quota.tolist(), strict=True) if q}}
    return _save(Path(out_path), jpegs, labels, NONFACE_LABELS, counts)


# ---- First use --------------------------------------------------------------------------------
def build_file(remote: RemoteFile, cache_dir: Path | None = None, progress: bool = True) -> Path:
    """Build ``remote`` (FAIRFACE or TINYIMAGENET) into ``<cache_dir>/<relpath>``, saying so."""
    cache_dir = Path(cache_dir or default_cache_dir())
    out = cache_dir / remote.relpath
    if remote.relpath == FAIRFACE.relpath:
        faces = len(RACES) * len(GENDERS) * (TRAIN_PER_CELL + VAL_PER_CELL)
        _announce(out, cache_dir, "FairFace's padding-0.25 release from Hugging Face (3 parquet "
                  f"files, {FAIRFACE_DOWNLOAD_BYTES / 1e6:.0f} MB)", f"{faces:,} faces")
        parquets = {split: [fetch(f, cache_dir=cache_dir, progress=progress) for f in files]
                    for split, files in FAIRFACE_PARQUETS.items()}
        return build_faces(out, parquets, progress=progress)
    if remote.relpath == TINYIMAGENET.relpath:
        _announce(out, cache_dir, f"Tiny ImageNet from Stanford ({TINYIMAGENET_ZIP.url}, "
                  f"{(TINYIMAGENET_ZIP.size or 0) / 1e6:.0f} MB)", f"{NUM_NONFACES:,} non-faces")
        zip_path = fetch(TINYIMAGENET_ZIP, cache_dir=cache_dir, progress=progress)
        return build_nonfaces(out, zip_path, progress=progress)
    raise ValueError(f"No build step for {remote.relpath}.")


def _announce(out: Path, cache_dir: Path, source: str, what: str) -> None:
    print(f"{out.name} is built once, on first use: downloading {source} into "
          f"{cache_dir / 'downloads'} (checked against pinned sha256s), then writing {what} as "
          f"64x64 JPEGs to {out}. Later runs read that file.", flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("faces", "nonfaces"))
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                        help="where downloads/ and faces/ go (default: data/)")
    args = parser.parse_args(argv)
    wanted = {"faces": [FAIRFACE], "nonfaces": [TINYIMAGENET]}.get(args.only,
                                                                  [FAIRFACE, TINYIMAGENET])
    for remote in wanted:
        print(f"wrote {build_file(remote, args.cache_dir)}")


if __name__ == "__main__":
    main()
