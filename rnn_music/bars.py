"""Counting the time in a tune's bars, the way abc2midi checks them.

A bar of an ABC tune must hold exactly what the time signature says: in M:6/8 with L:1/8,
``edB Bcd`` is six eighths (a full bar) and ``edB cA`` only five. abc2midi, our judge of a
well-formed tune, warns about every bar that is neither empty nor full, with two exceptions
that make folk tunes work:

- the first bar may be short: it is the *pickup* (anacrusis) that leads into the tune;
- a bar line that closes a section (``||``, ``|]``, ``|:``, ``:|``, ``::``) does not end a
  short bar: its time carries on into what is played next. Played next, after ``:|``, is the
  start of the repeated section, so the last bar of a part plus the pickup must make one full
  bar (``d|edB ... |B2G A2:|`` in 6/8: 5 + 1 = 6).

``bar_problems`` replays a tune's notes the way abc2midi plays it, repeats and first/second
endings included, and returns the same complaints. The character model knows none of this;
``rnn_music.bar_sampler`` uses this count to redraw the bars it gets wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# Bar line kinds, after abc2midi's parser: thin-thick, thick-thin and dotted bars act as "||".
SINGLE, DOUBLE, BAR_REP, REP_BAR, DOUBLE_REP, PLAY_ON_REP = (
    "|", "||", "|:", ":|", "::", "[n"
)
DECORATION_LETTERS = set(".MLRH~Tuv'OPSs")  # abc2midi's decorations; s marks a slur
NOTE_LETTERS = set("ABCDEFGabcdefgzxZ")
QUIET_CHARACTERS = set(" \t\n\r\\`-)$y*")  # take no time and no part in bars


@dataclass(frozen=True)
class Meter:
    """The time signature (the bar's length in whole notes) and the unit note length L."""

    bar: Fraction | None  # None: M:none, no bar checks
    unit: Fraction


def parse_meter(text: str) -> Fraction | None:
    """'6/8' -> 3/4 of a whole note; 'C' -> 1 (4/4); 'C|' -> 1 (2/2); 'none' -> None."""
    token = text.strip().split(" ")[0] if text.strip() else ""
    if token in ("C", "C|"):
        return Fraction(1)
    match = re.fullmatch(r"(\d+(?:\+\d+)*)/(\d+)", token)
    if match:
        return Fraction(sum(int(n) for n in match.group(1).split("+")), int(match.group(2)))
    return None


def default_unit(bar: Fraction | None) -> Fraction:
    """ABC's default L: 1/16 for metres below 3/4, else 1/8."""
    return Fraction(1, 16) if bar is not None and bar < Fraction(3, 4) else Fraction(1, 8)


def header_meter(header: str) -> Meter:
    """The metre a tune's body starts with, from its header fields (M: and L:)."""
    bar, unit = Fraction(1), None  # abc2midi assumes 4/4 without an M: field
    for line in header.splitlines():
        if line.startswith("M:"):
            bar = parse_meter(line[2:])
        elif line.startswith("L:"):
            unit = _parse_fraction(line[2:])
    return Meter(bar, unit or default_unit(bar))


def _parse_fraction(text: str) -> Fraction | None:
    match = re.match(r"\s*(\d+)/(\d+)", text)
    return Fraction(int(match.group(1)), int(match.group(2))) if match else None


KEY_LINE = re.compile(r"K:\s*[A-G][#b]?(.*)$")
KNOWN_MODES = ("", "m", "maj", "min", "dor", "mix", "aeo", "phr", "lyd", "loc", "ion")


def header_problems(header: str) -> list[str]:
    """What abc2midi (or a reader) would object to in a tune's header, up to its K: line:
    a reference number, a time signature and a unit length we can count with, a known key."""
    lines = header.strip("\n").split("\n")
    problems = []
    if not re.fullmatch(r"X:\s*\d+\s*", lines[0]):
        problems.append(f"the first line {lines[0]!r} is not 'X:<number>'")
    fields = {line[:2] for line in lines if re.match(r"[A-Za-z]:", line)}
    problems += [f"a header line {line!r} is not a field" for line in lines
                 if not re.match(r"[A-Za-z]:", line)]
    meters = [line for line in lines if line.startswith("M:")]
    if not meters or parse_meter(meters[-1][2:]) is None:
        problems.append("no time signature we can count bars with (M:6/8, M:C, ...)")
    if "L:" not in fields or _parse_fraction(
        next(line for line in lines if line.startswith("L:"))[2:]
    ) is None:
        problems.append("no unit note length (L:1/8)")
    key = KEY_LINE.match(lines[-1])
    if key is None or key.group(1).strip().lower()[:3] not in KNOWN_MODES:
        problems.append(f"the key line {lines[-1]!r} names no key abc2midi knows")
    return problems


def split_header(tune: str) -> tuple[str, str]:
    """(header up to and including the first K: line, body); body is '' without a K: line."""
    match = re.search(r"^K:.*$", tune, flags=re.MULTILINE)
    if match is None:
        return tune, ""
    return tune[: match.end()], tune[match.end() + 1 :]


# ---------------------------------------------------------------------------------------------
# Reading the body: notes with their lengths, bar lines, metre changes

@dataclass
class _Reader:
    text: str
    position: int = 0

    def peek(self, offset: int = 0) -> str:
        index = self.position + offset
        return self.text[index] if index < len(self.text) else ""

    def digits(self) -> int | None:
        start = self.position
        while self.peek().isdigit():
            self.position += 1
        return int(self.text[start : self.position]) if self.position > start else None

    def length(self) -> Fraction:
        """A note-length suffix: 2, /, //, /2, 3/2, ... (a multiple of the unit L)."""
        numerator = self.digits() or 1
        denominator = 1
        while self.peek() == "/":
            self.position += 1
            number = self.digits()
            denominator *= number if number else 2
        return Fraction(numerator, denominator)


def _tuplet_defaults(p: int, bar: Fraction | None) -> int:
    """q of (p: p notes in the time of q (abc2midi's defaults)."""
    if p in (2, 4, 8):
        return 3
    if p in (3, 6):
        return 2
    compound = bar is not None and bar.numerator % 3 == 0 and bar.numerator > 3
    return 3 if compound else 2


def read_events(body: str, meter: Meter) -> list[tuple]:
    """The body as events: ('note', length in whole notes), ('bar', kind),
    (PLAY_ON_REP, endings) and ('meter', Meter)."""
    reader = _Reader(body)
    events: list[tuple] = []
    broken = Fraction(1)  # factor for the next note, set by > or <
    tuplet_left, tuplet_factor = 0, Fraction(1)
    in_chord = in_grace = False
    chord_length: Fraction | None = None
    last_note = None  # index in events of the last note, for broken rhythm
    at_line_start = True
    while reader.position < len(body):
        char = reader.peek()
        if at_line_start and re.match(r"[A-Za-z]:", body[reader.position : reader.position + 2]):
            end = body.find("\n", reader.position)
            end = len(body) if end < 0 else end
            line = body[reader.position : end]
            meter = _field(line, meter, events)
            reader.position = end
            continue
        at_line_start = char == "\n"
        reader.position += 1
        if char == "%":  # comment to the end of the line
            end = body.find("\n", reader.position)
            reader.position = len(body) if end < 0 else end
        elif char == '"':  # chord symbol or annotation: no time
            end = body.find('"', reader.position)
            reader.position = len(body) if end < 0 else end + 1
        elif char == "!":  # !decoration!, or (as in this corpus) a line-break mark
            match = re.match(r"[^!\n|]*!", body[reader.position :])
            if match and match.group(0) != "!":
                reader.position += match.end()
        elif char == "{":
            in_grace = True
        elif char == "}":
            in_grace = False
        elif char in "^_=":
            continue
        elif char in NOTE_LETTERS:
            while reader.peek() in ("'", ","):
                reader.position += 1
            length = meter.unit * reader.length()
            if in_grace:
                continue
            if char == "Z":  # multi-bar rest: Z4 is four bars
                events.append(("note", (meter.bar or meter.unit) * length / meter.unit))
                continue
            length *= broken
            broken = Fraction(1)
            if tuplet_left:
                length *= tuplet_factor
                tuplet_left -= 1
            if in_chord:
                if chord_length is None:
                    chord_length = length
                continue
            events.append(("note", length))
            last_note = len(events) - 1
        elif char in "<>":
            count = 1
            while reader.peek() == char:
                reader.position += 1
                count += 1
            small = Fraction(1, 2**count)
            first, second = (2 - small, small) if char == ">" else (small, 2 - small)
            if last_note is not None:
                events[last_note] = ("note", events[last_note][1] * first)
            broken = second
        elif char == "(":
            p = reader.digits()
            if p is None:
                continue  # a slur
            q = r = None
            if reader.peek() == ":":
                reader.position += 1
                q = reader.digits()
                if reader.peek() == ":":
                    reader.position += 1
                    r = reader.digits()
            q = q or _tuplet_defaults(p, meter.bar)
            tuplet_left, tuplet_factor = r or p, Fraction(q, p)
        elif char == "[":
            if reader.peek() == "|":
                reader.position += 1
                events.append(("bar", DOUBLE))
                if reader.peek() == ":":
                    reader.position += 1
                    events.append(("bar", BAR_REP))
            elif reader.peek().isdigit():
                events.append((PLAY_ON_REP, _endings(reader)))
            elif re.match(r"[A-Za-z]:", body[reader.position : reader.position + 2]):
                end = body.find("]", reader.position)
                end = len(body) if end < 0 else end
                meter = _field(body[reader.position : end], meter, events)
                reader.position = end + 1
            else:
                in_chord, chord_length = True, None
        elif char == "]":
            if not in_chord and reader.peek() == "|":
                reader.position += 1
                events.append(("bar", DOUBLE))
            elif in_chord:
                in_chord = False
                length = (chord_length or meter.unit) * reader.length()
                events.append(("note", length))
                last_note = len(events) - 1
        elif char == "|":
            following = reader.peek()
            if following and following in ":|]":
                reader.position += 1
                events.append(("bar", {":": BAR_REP, "|": DOUBLE, "]": DOUBLE}[following]))
            else:
                events.append(("bar", SINGLE))
                if following.isdigit():
                    events.append((PLAY_ON_REP, _endings(reader)))
        elif char == ":":
            following = reader.peek()
            if following == ":":
                reader.position += 1
                events.append(("bar", DOUBLE_REP))
            elif following == "|":
                reader.position += 1
                events.append(("bar", REP_BAR))
                if reader.peek().isdigit():
                    events.append((PLAY_ON_REP, _endings(reader)))
                if reader.peek() == "]":
                    reader.position += 1
            else:
                events.append(("bar", DOUBLE))  # a dotted bar line
        elif char not in QUIET_CHARACTERS and char not in DECORATION_LETTERS:
            events.append(("error", f"Unrecognized character: {char}"))
    return events


def _endings(reader: _Reader) -> frozenset[int]:
    """The passes of a first/second ending: 1, 2, 1,3, 1-3."""
    passes: set[int] = set()
    while True:
        first = reader.digits()
        if first is None:
            break
        last = first
        if reader.peek() == "-" and reader.peek(1).isdigit():
            reader.position += 1
            last = reader.digits()
        passes.update(range(first, last + 1))
        if reader.peek() == "," and reader.peek(1).isdigit():
            reader.position += 1
            continue
        break
    return frozenset(passes)


def _field(line: str, meter: Meter, events: list) -> Meter:
    """A field inside the body (M: or L: change the count; others take no time)."""
    if line.startswith("P:"):
        events.append(("part", line[2:].strip()))
    elif line.startswith("M:"):
        bar = parse_meter(line[2:])
        meter = Meter(bar, meter.unit)
        events.append(("meter", meter))
    elif line.startswith("L:"):
        meter = Meter(meter.bar, _parse_fraction(line[2:]) or meter.unit)
    return meter


# ---------------------------------------------------------------------------------------------
# Replaying the tune: repeats, endings and the bar check

def _add_missing_repeats(events: list[tuple]) -> list[tuple]:
    """abc2midi's repairs of missing ``|:``, in its order.

    The music starts with an invisible ``||``. If a ``:|`` (or ``::``) comes before any
    ``|:``, a ``|:`` is put right after that ``||``: the repeat goes back to the start. Then
    a later ``:|`` without ``|:`` turns the last section line before it into ``|:``, and a
    first ending that opens no repeat does the same, with an error (added as an event).
    Tunes with parts (a P: field in the body) skip the second step, as abc2midi does.
    """
    events = [("bar", DOUBLE), *events]
    kinds = [_kind(event) for event in events]
    first_open = kinds.index(BAR_REP) if BAR_REP in kinds else len(kinds)
    closes = [i for i, kind in enumerate(kinds) if kind in (REP_BAR, DOUBLE_REP)]
    if closes and closes[0] < first_open:
        events.insert(1, ("bar", BAR_REP))
    if "part" in kinds:
        return events
    start_point, expect_repeat, use_next, endings_seen = 0, False, False, 0

    def place_start(index):
        kind = events[index][1]
        events[index] = ("bar", DOUBLE_REP if kind == REP_BAR else BAR_REP)

    for index, event in enumerate(events):
        kind = _kind(event)
        if kind == SINGLE and use_next:
            start_point, use_next = index, False
        elif kind == DOUBLE:
            start_point, use_next = index, False
        elif kind == BAR_REP:
            expect_repeat, use_next = True, False
        elif kind == REP_BAR:
            if not expect_repeat and endings_seen < 1:
                place_start(start_point)
            expect_repeat, start_point, use_next = False, index, False
        elif kind == PLAY_ON_REP:
            if endings_seen == 0 and not expect_repeat:
                events.append(("error", "found [1 or like before |:"))
                place_start(start_point)
            endings_seen += 1
        elif kind == DOUBLE_REP:
            if not expect_repeat:
                place_start(start_point)
            expect_repeat = True
    return events


def bar_problems(tune: str) -> list[str]:
    """abc2midi's complaints about bar lengths (and misplaced repeats) in ``tune``."""
    header, body = split_header(tune)
    meter = header_meter(header)
    events = _add_missing_repeats(read_events(body, meter))
    problems = [event[1] for event in events if event[0] == "error"]
    bar_time, bar_number = Fraction(0), 0
    play_pass, max_pass, expect_repeat, in_ending = 1, 2, False, False
    saved = (0, 0)

    def check():
        nonlocal bar_time, bar_number
        if meter.bar is not None and bar_time not in (0, meter.bar):
            if bar_number != 0 or play_pass == 2:
                problems.append(
                    f"Bar {bar_number} has {bar_time / meter.unit} units of "
                    f"{meter.unit} where the time signature has {meter.bar / meter.unit}"
                    + (" (in repeat)" if play_pass == 2 else "")
                )
        if bar_time > 0:
            bar_number += 1
        bar_time = Fraction(0)

    def soft_check():
        if meter.bar is None or bar_time >= meter.bar or bar_number <= 0:
            check()

    index = 0
    while index < len(events) and len(problems) < 50:
        event = events[index]
        kind = _kind(event)
        if kind == "note":
            bar_time += event[1]
        elif kind == "meter":
            meter = event[1]
        elif kind == SINGLE:
            check()
        elif kind == DOUBLE:
            in_ending = False
            soft_check()
        elif kind == BAR_REP:
            in_ending = False
            soft_check()
            if play_pass == 1 and expect_repeat:
                problems.append("Expected end repeat not found at |:")
            saved, expect_repeat, play_pass, max_pass = (index, bar_number), True, 1, 2
        elif kind == REP_BAR:
            in_ending = False
            soft_check()
            if play_pass == 1:
                if not expect_repeat:
                    problems.append("Found unexpected :|")
                else:
                    play_pass += 1
                    index, bar_number = saved
                    expect_repeat = False
            elif play_pass < max_pass:
                expect_repeat = False
                play_pass += 1
                index, bar_number = saved
        elif kind == DOUBLE_REP:
            in_ending = False
            soft_check()
            if play_pass > 1:
                saved, expect_repeat, play_pass, max_pass = (index, bar_number), True, 1, 2
            elif not expect_repeat:
                problems.append("Found unexpected ::")
                saved, expect_repeat, play_pass = (index, bar_number), True, 1
            else:
                index, bar_number = saved
                play_pass += 1
        elif kind == PLAY_ON_REP:
            if in_ending:
                problems.append("Need || |: :| or :: to mark end of variant ending")
            number = play_pass if (expect_repeat or play_pass > 1) else 1
            if number not in event[1]:
                index += 1
                stops = {BAR_REP, REP_BAR, DOUBLE, DOUBLE_REP, PLAY_ON_REP}
                while index < len(events) and _kind(events[index]) not in stops:
                    index += 1
                bar_number += 1
                if index >= len(events):
                    problems.append("Cannot find :| || [| or |] to close variant ending")
            else:
                in_ending = True
                if max_pass < 4:
                    max_pass = play_pass + 1
        index += 1
    return problems


def _kind(event: tuple) -> str:
    """A bar line's kind, or the event's type (note, meter, part, error, [n)."""
    return event[1] if event[0] == "bar" else event[0]
