"""From generated text to tunes you can check, hear and see.

- ``complete_tunes``: the finished tunes in a generated text;
- ``check_tune``: the validity rule, with ``abc2midi`` (from the abcmidi package) as the parser;
- ``midi_to_wav``: synthesis with ``timidity`` and a General MIDI soundfont, refusing a silent
  result (timidity without instruments writes a silent WAV and says nothing);
- ``read_midi_notes``: a small Standard MIDI File reader for the piano roll, and
  ``bar_line_times``: where the metre puts the bar lines in it;
- ``engrave_tune``: sheet music (SVG) with ``abcm2ps``;
- ``midi_to_ogg`` and ``audio_player``: sound small enough to keep in a notebook;
- ``CopyFinder``: the longest run of generated characters copied from the training text.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import struct
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from course.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from rnn_music.data import split_tunes

INSTALL_HINT = (
    "Install the ABC and MIDI tools with:  sudo apt-get install -y abcmidi abcm2ps timidity "
    "timgm6mb-soundfont   (Debian/Ubuntu, or: make system-deps; on macOS: brew install abcmidi "
    "abcm2ps timidity, plus a General MIDI .sf2 soundfont named in $DL_SOUNDFONT)."
)
# Audio kept in a notebook is base64, a third larger than the file: 150 kB makes 200 kB there.
AUDIO_EMBED_LIMIT = 150_000
SOUNDFONT_DIRS = ("/usr/share/sounds/sf2", "/usr/share/soundfonts", "/usr/local/share/soundfonts")


class MissingToolError(RuntimeError):
    """A program this step needs (abc2midi, timidity, a soundfont) is not installed."""


class SilentAudioError(RuntimeError):
    """timidity wrote a WAV without sound: it found no instruments (no soundfont)."""


def find_program(name: str, search_path: str | None = None) -> str:
    """The full path of ``name`` on ``search_path`` (default: $PATH), else MissingToolError."""
    found = shutil.which(name, path=search_path)
    if found is None:
        raise MissingToolError(f"'{name}' is not installed (not found on PATH). {INSTALL_HINT}")
    return found


def tools_available(search_path: str | None = None) -> bool:
    """True when both abc2midi and timidity can be found."""
    try:
        find_program("abc2midi", search_path)
        find_program("timidity", search_path)
    except MissingToolError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# Complete tunes in generated text

def complete_tunes(text: str) -> list[str]:
    """The complete tunes of a generated text.

    A tune runs from a line starting with ``X:`` to the next such line. It is complete when
    something follows it (the next ``X:``, or a closing blank line: the generator stopped
    after finishing it) and it has a key line ``K:`` with at least one line of music after it.
    A text without any ``X:`` line is a ValueError (see ``split_tunes``).
    """
    pieces = split_tunes(text)
    finished = pieces if text.rstrip(" ").endswith("\n\n") else pieces[:-1]
    return [tune for tune in finished if _has_key_and_music(tune)]


def _has_key_and_music(tune: str) -> bool:
    lines = tune.splitlines()
    keys = [i for i, line in enumerate(lines) if line.startswith("K:")]
    return bool(keys) and any(line.strip() for line in lines[keys[0] + 1 :])


# ---------------------------------------------------------------------------------------------
# Validity with abc2midi

BAR_LENGTH_WARNING = re.compile(r"Bar \d+ has .* time units while the time signature has")


@dataclass
class TuneCheck:
    """What abc2midi made of one tune."""

    valid: bool
    problems: list[str] = field(default_factory=list)  # the lines that made it invalid
    midi: bytes | None = None


def check_tune(tune: str, abc2midi: str | None = None) -> TuneCheck:
    """Run abc2midi on ``tune``; valid = a MIDI file with notes, no ``Error`` line and no
    bar-length warning. Its stylistic repeat warnings ("Assuming repeat") do not count."""
    program = abc2midi or find_program("abc2midi")
    with tempfile.TemporaryDirectory(prefix="abc-") as folder:
        abc_path, midi_path = Path(folder) / "tune.abc", Path(folder) / "tune.mid"
        abc_path.write_text(tune.strip() + "\n\n", encoding="ascii", errors="replace")
        result = subprocess.run(
            [program, str(abc_path), "-o", str(midi_path)],
            capture_output=True, text=True, errors="replace", timeout=60, check=False,
        )
        midi = midi_path.read_bytes() if midi_path.exists() else None
    lines = (result.stdout + result.stderr).splitlines()
    problems = [
        line for line in lines if line.startswith("Error") or BAR_LENGTH_WARNING.search(line)
    ]
    if midi is None:
        problems.append("abc2midi wrote no MIDI file")
    elif not problems and not read_midi_notes(midi):
        problems.append("the MIDI file has no notes")
    return TuneCheck(valid=not problems, problems=problems, midi=midi)


def valid_fraction(tunes: list[str], abc2midi: str | None = None) -> float:
    """The fraction of ``tunes`` that ``check_tune`` accepts."""
    if not tunes:
        raise ValueError("No tunes to check.")
    program = abc2midi or find_program("abc2midi")
    return sum(check_tune(tune, program).valid for tune in tunes) / len(tunes)


# ---------------------------------------------------------------------------------------------
# Sound with timidity

def find_soundfont() -> Path | None:
    """A General MIDI soundfont: $DL_SOUNDFONT, else the first .sf2 in the usual folders."""
    if os.environ.get("DL_SOUNDFONT"):
        return Path(os.environ["DL_SOUNDFONT"])
    for folder in SOUNDFONT_DIRS:
        fonts = sorted(Path(folder).glob("*.sf2")) if Path(folder).is_dir() else []
        if fonts:
            return fonts[0]
    return None


def wav_peak(path: str | os.PathLike) -> float:
    """The largest absolute sample of a 16-bit WAV, as a fraction of full scale."""
    with wave.open(str(path)) as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path} is not a 16-bit WAV")
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return float(np.abs(samples.astype(np.int32)).max(initial=0)) / 32768


def _timidity(midi_path, out_path, output_mode: str, is_good, failure: str, timidity, soundfont,
              sample_rate: int) -> Path:
    """Run timidity on ``midi_path`` into ``out_path`` (atomically); raise SilentAudioError with
    ``failure`` and timidity's last words unless ``is_good(file)``."""
    program = timidity or find_program("timidity")
    soundfont = soundfont or find_soundfont()
    out_path = Path(out_path)
    command = [program, output_mode, "--output-mono", "-s", str(sample_rate), "-A", "300"]
    if soundfont:
        command += ["-x", f"soundfont {soundfont}"]
    with atomic_path(out_path) as tmp:
        result = subprocess.run(
            [*command, "-o", str(tmp), str(midi_path)],
            capture_output=True, text=True, errors="replace", timeout=120, check=False,
        )
        if not tmp.exists() or not is_good(tmp):
            detail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            raise SilentAudioError(f"{failure} (its last words: {detail})")
    return out_path


def midi_to_wav(
    midi_path: str | os.PathLike,
    wav_path: str | os.PathLike,
    timidity: str | None = None,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 16_000,
) -> Path:
    """Synthesise ``midi_path`` to a mono 16-bit WAV at ``wav_path`` (written atomically).

    Uses ``soundfont`` (default: ``find_soundfont()``), else timidity's own configuration.
    Raises SilentAudioError when the result is silent, MissingToolError without timidity.
    """
    return _timidity(
        midi_path, wav_path, "-Ow", lambda path: wav_peak(path) >= 0.01,
        f"timidity produced no sound for {midi_path}: no General MIDI soundfont found. "
        f"{INSTALL_HINT}", timidity, soundfont, sample_rate)


def midi_to_ogg(
    midi_path: str | os.PathLike,
    ogg_path: str | os.PathLike,
    timidity: str | None = None,
    soundfont: str | os.PathLike | None = None,
    sample_rate: int = 16_000,
) -> Path:
    """Synthesise ``midi_path`` to a mono Ogg Vorbis file (about 3 kB per second of music).

    The same synthesis as ``midi_to_wav``, compressed about tenfold, so a tune's sound fits
    in a notebook. It cannot check for silence: call ``midi_to_wav`` first for that.
    """
    return _timidity(
        midi_path, ogg_path, "-Ov", lambda path: path.read_bytes()[:4] == b"OggS",
        f"timidity wrote no Ogg Vorbis file for {midi_path}", timidity, soundfont, sample_rate)


def audio_player(path: str | os.PathLike, max_bytes: int = AUDIO_EMBED_LIMIT):
    """A notebook player for a sound file: embedded when it is at most ``max_bytes``, else a
    link to the file (a big file would bloat the notebook, and GitHub plays neither)."""
    from IPython.display import Audio, FileLink

    path = Path(path)
    if path.stat().st_size <= max_bytes:
        return Audio(filename=str(path))
    return FileLink(os.path.relpath(path), result_html_prefix="Too long to embed; listen: ")


# ---------------------------------------------------------------------------------------------
# Sheet music with abcm2ps

# Lines of abcm2ps's SVG that change on every run without changing the picture.
_VOLATILE_SVG = re.compile(r"^<!-- (CreationDate|CommandLine): .*-->\n", re.MULTILINE)


def engrave_tune(tune: str, svg_path: str | os.PathLike, abcm2ps: str | None = None) -> Path:
    """Engrave ``tune`` as sheet music: an SVG file at ``svg_path`` (written atomically).

    Raises MissingToolError without ``abcm2ps``, ValueError when it engraves nothing.
    """
    program = abcm2ps or find_program("abcm2ps")
    svg_path = Path(svg_path)
    with tempfile.TemporaryDirectory(prefix="abcm2ps-") as folder:
        abc_path = Path(folder) / "tune.abc"
        abc_path.write_text(tune.strip() + "\n\n", encoding="ascii", errors="replace")
        # -g: SVG, one file per tune (named tune001.svg, ...); -q: no chatter on stdout.
        result = subprocess.run(
            [program, "-g", "-q", "-O", str(Path(folder) / "tune.svg"), str(abc_path)],
            capture_output=True, text=True, errors="replace", timeout=60, check=False,
        )
        pages = sorted(Path(folder).glob("tune*.svg"))
        if not pages:
            detail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            raise ValueError(f"abcm2ps engraved nothing from this tune: {detail}")
        svg = _VOLATILE_SVG.sub("", pages[0].read_text(encoding="utf-8", errors="replace"))
    # The <title> (a tooltip) names the temporary file: name the tune instead.
    titles = [line[2:].strip() for line in tune.splitlines() if line.startswith("T:")]
    title = html.escape(titles[0] if titles else svg_path.stem, quote=False)
    svg = re.sub(r"<title>.*?</title>", lambda _: f"<title>{title}</title>", svg, count=1)
    return atomic_write_text(svg_path, svg)


# ---------------------------------------------------------------------------------------------
# A minimal Standard MIDI File reader

@dataclass(frozen=True)
class Note:
    pitch: int  # MIDI note number, 60 = middle C
    start: float  # in quarter notes (beats) from the start
    duration: float  # in quarter notes
    channel: int = 0


def _variable_length(data: bytes, position: int) -> tuple[int, int]:
    """A MIDI variable-length quantity: 7 bits per byte, high bit set on all but the last."""
    value = 0
    while True:
        byte = data[position]
        position += 1
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            return value, position


def read_midi_notes(midi: bytes | str | os.PathLike) -> list[Note]:
    """The notes of a Standard MIDI File (format 0 or 1), times in quarter notes.

    Tempo is ignored on purpose: a piano roll in beats shows the tune's rhythm as written.
    """
    data = midi if isinstance(midi, bytes) else Path(midi).read_bytes()
    if data[:4] != b"MThd":
        raise ValueError("Not a Standard MIDI File (no MThd header).")
    header_length, _, num_tracks, division = struct.unpack(">IHHH", data[4:14])
    if division & 0x8000:
        raise ValueError("SMPTE time division is not supported.")
    position = 8 + header_length
    notes: list[Note] = []
    for _ in range(num_tracks):
        if data[position : position + 4] != b"MTrk":
            raise ValueError("Corrupt MIDI file: expected a track chunk (MTrk).")
        (length,) = struct.unpack(">I", data[position + 4 : position + 8])
        notes += _track_notes(data[position + 8 : position + 8 + length], division)
        position += 8 + length
    return sorted(notes, key=lambda note: (note.start, note.pitch))


def _track_notes(track: bytes, division: int) -> list[Note]:
    notes, sounding = [], {}  # (channel, pitch) -> start tick
    position, tick, status = 0, 0, 0
    while position < len(track):
        delta, position = _variable_length(track, position)
        tick += delta
        if track[position] & 0x80:  # a new status byte; otherwise "running status" repeats it
            status = track[position]
            position += 1
        if status == 0xFF:  # meta event: type, length, data
            position += 1
            length, position = _variable_length(track, position)
            position += length
            continue
        if status in (0xF0, 0xF7):  # system exclusive
            length, position = _variable_length(track, position)
            position += length
            continue
        kind, channel = status & 0xF0, status & 0x0F
        size = 1 if kind in (0xC0, 0xD0) else 2
        args = track[position : position + size]
        position += size
        if kind in (0x80, 0x90):
            pitch, velocity = args[0], args[1]
            key = (channel, pitch)
            if key in sounding:  # a note on/off ends the note already sounding at that pitch
                start = sounding.pop(key)
                notes.append(Note(pitch, start / division, (tick - start) / division, channel))
            if kind == 0x90 and velocity > 0:
                sounding[key] = tick
    return notes


def bar_line_times(tune: str, end: float) -> list[float]:
    """Where the tune's metre puts its bar lines, in quarter notes from 0 up to ``end``.

    A bar is M (the time signature) long; the first line closes the pickup when the tune has
    one. In a well-formed tune every played bar line falls on this grid, repeats included
    (a part's short last bar plus the pickup make a full bar); a bar of the wrong length
    shifts the notes after it off the grid. One metre: a later M: field is not followed.
    Returns [] for M:none or a tune without a body.
    """
    from rnn_music.bars import header_meter, read_events, split_header

    header, body = split_header(tune)
    meter = header_meter(header)
    if meter.bar is None or not body.strip():
        return []
    first_bar = Fraction(0)
    for event in read_events(body, meter):
        if event[0] == "bar":
            break
        if event[0] == "note":
            first_bar += event[1]
    bar = float(meter.bar) * 4  # whole notes -> quarter notes
    pickup = float(first_bar) * 4 if 0 < first_bar < meter.bar else 0.0
    times = [pickup] if pickup else []
    return times + [float(time) for time in np.arange(pickup + bar, end + 1e-9, bar)]


# ---------------------------------------------------------------------------------------------
# Originality: longest run copied from the training text

class CopyFinder:
    """A suffix automaton of the training text: finds, in time linear in a query's length,
    its longest substring that also occurs somewhere in the training text."""

    def __init__(self, text: str):
        # State 0 is the empty string; each state: transitions, suffix link, longest length.
        self.next: list[dict[str, int]] = [{}]
        self.link, self.length = [-1], [0]
        last = 0
        for char in text:
            last = self._extend(last, char)

    def _extend(self, last: int, char: str) -> int:
        current = len(self.length)
        self.next.append({})
        self.link.append(0)
        self.length.append(self.length[last] + 1)
        state = last
        while state != -1 and char not in self.next[state]:
            self.next[state][char] = current
            state = self.link[state]
        if state != -1:
            target = self.next[state][char]
            if self.length[state] + 1 == self.length[target]:
                self.link[current] = target
            else:  # split: a clone of target that keeps only the shorter strings
                clone = len(self.length)
                self.next.append(dict(self.next[target]))
                self.link.append(self.link[target])
                self.length.append(self.length[state] + 1)
                while state != -1 and self.next[state].get(char) == target:
                    self.next[state][char] = clone
                    state = self.link[state]
                self.link[target] = self.link[current] = clone
        return current

    def longest_copy(self, query: str) -> str:
        """The longest substring of ``query`` that occurs in the training text."""
        state, matched, best_length, best_end = 0, 0, 0, 0
        for i, char in enumerate(query):
            while state and char not in self.next[state]:
                state = self.link[state]
                matched = self.length[state]
            if char in self.next[state]:
                state = self.next[state][char]
                matched += 1
            if matched > best_length:
                best_length, best_end = matched, i + 1
        return query[best_end - best_length : best_end]


# ---------------------------------------------------------------------------------------------
# Everything for one tune: files on disk, notes for the piano roll

@dataclass
class RenderedTune:
    abc_path: Path
    midi_path: Path | None = None
    wav_path: Path | None = None
    ogg_path: Path | None = None  # the WAV's sound, compressed to fit in a notebook
    svg_path: Path | None = None  # the sheet music
    notes: list[Note] = field(default_factory=list)
    bar_lines: list[float] = field(default_factory=list)  # in quarter notes, for the piano roll
    check: TuneCheck | None = None
    message: str = ""  # why the MIDI or the sound is missing, with how to fix it
    sheet_message: str = ""  # why the sheet music is missing


def render_tune(tune: str, folder: str | os.PathLike, name: str) -> RenderedTune:
    """Write ``name``.abc, and where the tools allow, ``name``.svg (sheet music), ``name``.mid,
    ``name``.wav and ``name``.ogg.

    Never raises for a missing tool or soundfont: the messages say what is missing and how to
    install it, so a notebook keeps running (and still shows the ABC text).
    """
    folder = Path(folder)
    rendered = RenderedTune(atomic_write_text(folder / f"{name}.abc", tune.strip() + "\n\n"))
    try:
        rendered.svg_path = engrave_tune(tune, folder / f"{name}.svg")
    except (MissingToolError, ValueError) as error:
        rendered.sheet_message = str(error)
    try:
        rendered.check = check_tune(tune)
    except MissingToolError as error:
        rendered.message = str(error)
        return rendered
    if rendered.check.midi is None:
        rendered.message = "abc2midi could not read this tune: " + "; ".join(
            rendered.check.problems
        )
        return rendered
    rendered.midi_path = atomic_write_bytes(folder / f"{name}.mid", rendered.check.midi)
    rendered.notes = read_midi_notes(rendered.check.midi)
    end = max((note.start + note.duration for note in rendered.notes), default=0.0)
    rendered.bar_lines = bar_line_times(tune, end)
    try:
        rendered.wav_path = midi_to_wav(rendered.midi_path, folder / f"{name}.wav")
        rendered.ogg_path = midi_to_ogg(rendered.midi_path, folder / f"{name}.ogg")
    except (MissingToolError, SilentAudioError) as error:
        rendered.message = str(error)
    return rendered
