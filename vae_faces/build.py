"""Build the chapter's two data files from the public archives.

    python -m vae_faces.build --fairface-zip fairface-img-margin025-trainval.zip \\
        --fairface-train-csv fairface_label_train.csv --fairface-val-csv fairface_label_val.csv \\
        [--tinyimagenet-zip tiny-imagenet-200.zip] [--out data/faces]

FairFace (Karkkainen & Joo, WACV 2021, CC BY 4.0): the images ("padding=0.25" release) and the
two label CSVs are linked from https://github.com/joojs/fairface (Google Drive, so download
them by hand). Tiny ImageNet is downloaded from its pinned URL when no zip is given, and its
MD5 checked against the published one.

Each image is resized to 64x64 (LANCZOS) and stored as JPEG bytes (quality 95, no chroma
subsampling) in one uint8 buffer with an offsets array: plain arrays, no pickle. The course's
shared copy (SOURCES.md) was also cleared of near-duplicate faces and of Haar-detected faces
among the non-faces; this step does not repeat those filters, so its files differ in detail.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import re
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from course.fetch import DataFileError, default_cache_dir
from vae_faces.config import RACES

TINYIMAGENET_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"
TINYIMAGENET_MD5 = "90528d7ca1a48142e341f4ef8d21d0de"  # as published with the archive
GENDERS = ("Male", "Female")
SIZE = 64

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


def encode_jpeg(data: bytes) -> bytes:
    """Any image file's bytes -> a 64x64 RGB JPEG (quality 95, 4:4:4)."""
    with Image.open(io.BytesIO(data)) as image:
        rgb = image.convert("RGB")
        if rgb.size != (SIZE, SIZE):
            rgb = rgb.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    rgb.save(out, "JPEG", quality=95, subsampling=0, optimize=True)
    return out.getvalue()


def pack(jpegs: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """JPEG byte strings -> (one uint8 buffer, int64 offsets with offsets[i] = start of i)."""
    offsets = np.zeros(len(jpegs) + 1, dtype="int64")
    offsets[1:] = np.cumsum([len(j) for j in jpegs])
    return np.frombuffer(b"".join(jpegs), dtype="uint8"), offsets


def _number(name: str) -> int:
    found = re.findall(r"\d+", Path(name).stem)
    return int(found[-1]) if found else 0


def read_fairface_labels(path: Path, split: str) -> list[dict]:
    """Rows of a FairFace label CSV (columns file, age, gender, race, ...), tagged with split."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"file", "age", "gender", "race"} - set(rows[0] if rows else {})
    if missing:
        raise DataFileError(f"{path} lacks the FairFace label columns {sorted(missing)}.")
    return [{**row, "split": split} for row in rows]


def build_fairface(zip_path, train_csv, val_csv, out_path, train_per_cell=450,
                   val_per_cell=150, seed=6192) -> Path:
    """Draw ``*_per_cell`` faces per race x gender cell and split; write the faces npz."""
    rng = np.random.default_rng(seed)
    rows = read_fairface_labels(Path(train_csv), "train") + read_fairface_labels(
        Path(val_csv), "val")
    chosen = []
    for split, per_cell in (("train", train_per_cell), ("val", val_per_cell)):
        for race in RACES:
            for gender in GENDERS:
                cell = [r for r in rows
                        if r["split"] == split and r["race"] == race and r["gender"] == gender]
                if len(cell) < per_cell:
                    raise DataFileError(
                        f"FairFace {split} has {len(cell)} faces of {race}/{gender}, "
                        f"fewer than the {per_cell} asked for."
                    )
                picked = rng.choice(len(cell), size=per_cell, replace=False)
                chosen += sorted((cell[i] for i in picked), key=lambda r: _number(r["file"]))
    with zipfile.ZipFile(zip_path) as archive:
        names = {name.split("/", 1)[-1] if not name.startswith(("train/", "val/")) else name: name
                 for name in archive.namelist()}
        jpegs = []
        for row in chosen:
            member = names.get(row["file"])
            if member is None:
                raise DataFileError(f"{zip_path} has no image {row['file']!r}.")
            jpegs.append(encode_jpeg(archive.read(member)))
    buffer, offsets = pack(jpegs)
    column = {key: np.array([r[key] for r in chosen]) for key in ("race", "gender", "age", "split",
                                                                  "file")}
    return _save(out_path, jpeg=buffer, offsets=offsets, faces_race=column["race"],
                 faces_gender=column["gender"], faces_age=column["age"],
                 faces_split=column["split"], faces_file=column["file"],
                 faces_group=np.char.add(np.char.add(column["race"], "/"), column["gender"]))


def build_tinyimagenet(zip_path, out_path, total=8_000, seed=6193) -> Path:
    """Non-faces: drop the person-centric classes, then fill an equal quota per kept class
    with its val images first, topped up with train images in a seeded random order."""
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        root = names[0].split("/")[0] + "/"
        wnids = archive.read(root + "wnids.txt").decode().split()
        words = dict(line.split("\t", 1) for line in archive.read(root + "words.txt").decode()
                     .splitlines() if "\t" in line)
        class_name = {w: words.get(w, w).split(",")[0].strip() for w in wnids}
        kept = [w for w in wnids if class_name[w] not in PERSON_CLASSES]
        if not kept:
            raise DataFileError(f"{zip_path}: every class is person-centric; nothing to keep.")
        val_of = {}
        for line in archive.read(root + "val/val_annotations.txt").decode().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2:
                val_of.setdefault(parts[1], []).append(f"val/images/{parts[0]}")
        train_of = {w: sorted((n[len(root):] for n in names
                               if n.startswith(f"{root}train/{w}/images/") and n.endswith(".JPEG")),
                              key=_number) for w in kept}
        quota = np.full(len(kept), total // len(kept))
        quota[rng.choice(len(kept), size=total % len(kept), replace=False)] += 1
        picks = {"val": [], "train": []}
        for wnid, count in zip(kept, quota, strict=True):
            val_files = sorted(val_of.get(wnid, []), key=_number)[:count]
            picks["val"] += [(f, wnid) for f in val_files]
            extra = train_of[wnid]
            order = rng.permutation(len(extra))[: count - len(val_files)]
            picks["train"] += [(extra[i], wnid) for i in sorted(order)]
        picks["val"].sort(key=lambda item: _number(item[0]))
        chosen = picks["val"] + picks["train"]
        jpegs = [encode_jpeg(archive.read(root + f)) for f, _ in chosen]
    buffer, offsets = pack(jpegs)
    files = np.array([f for f, _ in chosen])
    wnid_array = np.array([w for _, w in chosen])
    return _save(out_path, jpeg=buffer, offsets=offsets, nonfaces_wnid=wnid_array,
                 nonfaces_class=np.array([class_name[w] for w in wnid_array]),
                 nonfaces_split=np.array([f.split("/")[0] for f in files]),
                 nonfaces_file=files)


def _save(path, **arrays) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    with open(tmp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    tmp.replace(path)
    return path


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def download_tinyimagenet(dest: Path) -> Path:
    """Download the Tiny ImageNet zip (about 237 MB) and check its published MD5."""
    if not dest.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.part")
        print(f"downloading {TINYIMAGENET_URL} to {dest}")
        urllib.request.urlretrieve(TINYIMAGENET_URL, tmp)
        tmp.replace(dest)
    if md5_of(dest) != TINYIMAGENET_MD5:
        raise DataFileError(f"{dest} does not have the published MD5 {TINYIMAGENET_MD5}; "
                            "delete it and download again.")
    return dest


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fairface-zip", type=Path, required=True)
    parser.add_argument("--fairface-train-csv", type=Path, required=True)
    parser.add_argument("--fairface-val-csv", type=Path, required=True)
    parser.add_argument("--tinyimagenet-zip", type=Path)
    parser.add_argument("--out", type=Path, default=default_cache_dir() / "faces")
    parser.add_argument("--train-per-cell", type=int, default=450)
    parser.add_argument("--val-per-cell", type=int, default=150)
    parser.add_argument("--nonfaces", type=int, default=8_000)
    args = parser.parse_args(argv)
    tiny = args.tinyimagenet_zip or download_tinyimagenet(
        default_cache_dir() / "downloads" / "tiny-imagenet-200.zip")
    faces = build_fairface(args.fairface_zip, args.fairface_train_csv, args.fairface_val_csv,
                           args.out / "fairface_faces_64_jpeg.npz", args.train_per_cell,
                           args.val_per_cell)
    nonfaces = build_tinyimagenet(tiny, args.out / "tinyimagenet_nonfaces_64_jpeg.npz",
                                  args.nonfaces)
    print(f"wrote {faces} and {nonfaces}")


if __name__ == "__main__":
    main()
