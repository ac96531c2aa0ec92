"""Sampling tunes bar by bar, redrawing a bar whose length is wrong.

The character model has learnt what bars look like but not to count: a bar it writes is often
a beat short or long, and the last bar of a repeated part rarely complements the pickup. A
plain sampler keeps those slips. This one reads along as the model writes: at every bar line it
counts the tune so far with ``rnn_music.bars.bar_problems`` (which agrees with abc2midi on all
804 corpus tunes), and when the new bar line brings a new complaint, it rewinds the LSTM to the
start of that bar and lets the model draw the bar again from there.

Redrawing a rejected bar samples the model's own distribution *given that the bar is right*
(rejection sampling, one bar at a time): the notes are still the model's, the counting is ours.
After ``max_redraws`` failed draws the bar is kept as it is, so a tune can still come out
invalid; ``BarSampling`` reports how often that happened. abc2midi stays the judge.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np

from rnn_music.bars import bar_problems, header_problems, split_header
from rnn_music.model import Generator, draw_characters, softmax_with_temperature

# The end of the text is (or may still grow into) a bar line: |  ||  |]  |:  :|  ::  :|2  |[1
BAR_LINE_AT_END = re.compile(r"(?:\[\||[|:])[|:\]]*(?:\d+(?:[-,]\d+)*)?\[?$")
CONTINUES_BAR_LINE = set("|:]0123456789[")


@dataclass
class BarSampling:
    """The tunes, and what the sampler did to get them."""

    tunes: list[str]
    bars_checked: int = 0  # bar lines counted (kept or redrawn)
    bars_redrawn: int = 0  # draws thrown away because the bar's length was wrong
    bars_kept_wrong: int = 0  # bars kept after max_redraws failed draws
    headers_redrawn: int = 0  # headers thrown away (no number, metre or known key)
    tunes_abandoned: int = 0  # streams that ran past max_length without ending a tune
    characters_sampled: int = 0

    def summary(self) -> dict:
        """The counts, with the number of tunes in place of the tunes."""
        return {**asdict(self), "tunes": len(self.tunes)}


@dataclass
class _Stream:
    """One tune being written: its text, and where to rewind to (the last good bar line)."""

    text: str
    mark: tuple | None = None  # (length of text, h, c, logits) at the last accepted bar line
    in_body: bool = False
    problems_kept: int = 0  # complaints of bars kept after max_redraws
    redraws: int = 0  # failed draws of the current bar (or header)
    done: bool = False


def sample_tunes_bar_checked(
    generator: Generator,
    num_tunes: int,
    temperature: float,
    seed: int = 0,
    max_redraws: int = 30,
    max_length: int = 2_000,
) -> BarSampling:
    """``num_tunes`` tunes, one per stream, written side by side from ``X:``.

    A tune ends at a blank line or a new ``X:`` line. A stream that writes ``max_length``
    characters without ending its tune starts a new one (counted in ``tunes_abandoned``);
    after ``3 * max_length`` steps the streams still writing are abandoned too, so a model
    that never ends a tune (an untrained one) returns fewer tunes instead of running forever.
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0 for sampling (redraws need randomness).")
    vocabulary = generator.vocabulary
    rng = np.random.default_rng(seed)
    start_tokens = np.repeat(vocabulary.encode("X:")[None, :], num_tunes, axis=0)
    logits, (h, c) = generator.run(start_tokens, generator.zero_state(num_tunes))
    logits, h, c = logits[:, -1].copy(), np.array(h), np.array(c)
    fresh = (h[0].copy(), c[0].copy(), logits[0].copy())  # the state after "X:" (same for all)
    streams = [_Stream("X:") for _ in range(num_tunes)]
    report = BarSampling(tunes=[])
    for _ in range(3 * max_length):
        if all(stream.done for stream in streams):
            break
        draws = draw_characters(softmax_with_temperature(logits, temperature), rng)
        feed = np.zeros((num_tunes, 1), dtype=np.int32)
        rewinds: dict[int, tuple] = {}
        for i, stream in enumerate(streams):
            if stream.done:
                continue
            report.characters_sampled += 1
            char = vocabulary.characters[draws[i]]
            here = (len(stream.text), h[i].copy(), c[i].copy(), logits[i].copy())
            verdict = _consider(stream, char, here, max_redraws, report)
            if verdict == "keep":
                stream.text += char
                feed[i, 0] = draws[i]
            elif verdict == "rewind":
                rewinds[i] = stream.mark[1:]
            elif verdict == "restart":  # a bad header: write the tune again from "X:"
                streams[i] = _Stream("X:", redraws=stream.redraws)
                rewinds[i] = fresh
            elif verdict == "finished":
                report.tunes.append(stream.text.strip())
                stream.done = True
            if not stream.done and len(stream.text) >= max_length:
                report.tunes_abandoned += 1
                streams[i] = _Stream("X:")
                rewinds[i] = fresh
        step_logits, (h, c) = generator.run(feed, (h, c))
        logits, h, c = step_logits[:, -1].copy(), np.array(h), np.array(c)
        for i, (mark_h, mark_c, mark_logits) in rewinds.items():
            h[i], c[i], logits[i] = mark_h, mark_c, mark_logits
    report.tunes_abandoned += sum(not stream.done for stream in streams)
    return report


def _consider(stream: _Stream, char: str, here: tuple, max_redraws: int, report) -> str:
    """Keep ``char``, rewind the stream to its last good bar line, or finish its tune."""
    text = stream.text
    if not stream.in_body:
        if char == "\n" and re.search(r"(^|\n)K:[^\n]*$", text):
            if header_problems(text) and stream.redraws < max_redraws:
                stream.redraws += 1
                report.headers_redrawn += 1
                return "restart"
            stream.in_body, stream.redraws = True, 0  # the body starts after this newline
        return "keep"
    if stream.mark is None:
        stream.mark = here  # a wrong first bar is redrawn from the start of the body
    ends_tune = text.endswith("\n") and char in ("\n", "X")
    ends_bar = (
        BAR_LINE_AT_END.search(text) is not None and char not in CONTINUES_BAR_LINE
    )
    if not (ends_tune or ends_bar) or (ends_bar and len(text) == stream.mark[0]):
        return "keep"  # mid-bar, or redrawing from the bar line checked last
    report.bars_checked += 1
    problems = len(bar_problems(text))
    if ends_tune and not re.search(r"[A-Ga-g]", split_header(text)[1]):
        problems = stream.problems_kept + 1  # a tune needs at least one note
    if problems > stream.problems_kept:
        stream.redraws += 1
        report.bars_redrawn += 1
        if stream.redraws <= max_redraws:
            stream.text = text[: stream.mark[0]]
            return "rewind"
        report.bars_kept_wrong += 1
        stream.problems_kept = problems
    stream.redraws = 0
    stream.mark = here
    return "finished" if ends_tune else "keep"
