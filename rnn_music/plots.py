"""The chapter's figures; each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from rnn_music.abc_tools import Note

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def plot_history(history: dict[str, list[float]], steps_per_checkpoint: int, title: str = ""):
    """Training and held-out loss (nats per character) against training steps."""
    # A run on a time budget ends between checkpoints: use the recorded steps where present.
    steps = history.get("steps") or steps_per_checkpoint * np.arange(1, len(history["loss"]) + 1)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(steps, history["loss"], "o-", label="training windows (mean over the last steps)")
    if "val_loss" in history:
        ax.plot(steps, history["val_loss"], "s-", label="held-out tunes")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy (nats / character)")
    ax.set_title(title or "Loss during training")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_piano_roll(notes: list[Note], title: str = "", ax=None, bar_lines=(), end=None):
    """Each note as a bar: time (quarter notes) across, pitch up; ``bar_lines`` (quarter notes,
    see ``abc_tools.bar_line_times``) as vertical lines; the time axis runs to ``end``
    (default: the last note's end)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 3))
    else:
        fig = ax.figure
    ax.set_title(title, loc="left", fontsize=10)
    if not notes:
        ax.text(0.5, 0.5, "no notes", ha="center", va="center", transform=ax.transAxes)
        return fig
    pitches = np.array([note.pitch for note in notes])
    for time in bar_lines:
        ax.axvline(time, color="0.55", linewidth=0.8, zorder=0)
    ax.barh(
        pitches,
        [note.duration for note in notes],
        left=[note.start for note in notes],
        height=0.8,
        color=plt.cm.viridis((pitches - pitches.min()) / max(1, np.ptp(pitches))),
        zorder=1,
    )
    low, high = int(pitches.min()) - 2, int(pitches.max()) + 2
    ax.set_ylim(low, high)
    ax.set_xlim(0, end or max(note.start + note.duration for note in notes))
    ticks = [p for p in range(low, high + 1) if p % 12 in (0, 7)]  # every C and G
    ax.set_yticks(ticks, [f"{NOTE_NAMES[p % 12]}{p // 12 - 1}" for p in ticks])
    ax.set_xlabel("time (quarter notes); grey lines: bar lines of the metre")
    ax.set_ylabel("pitch")
    if len(fig.axes) == 1:
        fig.tight_layout()
    return fig


def plot_piano_rolls(rolls: list[tuple]):
    """Piano rolls stacked on one time axis, one per ``(title, notes)`` or
    ``(title, notes, bar_lines)``: the same length of music is the same width in every panel."""
    end = max(
        (note.start + note.duration for roll in rolls for note in roll[1]), default=1.0
    )
    fig, axes = plt.subplots(
        len(rolls), 1, figsize=(10, 2.4 * len(rolls)), squeeze=False, sharex=True
    )
    for ax, (title, notes, *bar_lines) in zip(axes[:, 0], rolls, strict=True):
        plot_piano_roll(notes, title, ax=ax, bar_lines=bar_lines[0] if bar_lines else (),
                        end=end)
    for ax in axes[:-1, 0]:
        ax.set_xlabel("")
    fig.tight_layout()
    return fig


def plot_temperature(logits: np.ndarray, vocabulary, temperatures=(0.5, 1.0, 2.0), top: int = 12):
    """The next-character distribution at several temperatures (its ``top`` likeliest)."""
    from rnn_music.model import softmax_with_temperature

    order = np.argsort(logits)[::-1][:top]
    labels = [repr(vocabulary.characters[i])[1:-1] for i in order]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    width = 0.8 / len(temperatures)
    for k, temperature in enumerate(temperatures):
        probabilities = softmax_with_temperature(logits, temperature)[order]
        ax.bar(np.arange(top) + k * width, probabilities, width, label=f"T = {temperature}")
    ax.set_xticks(np.arange(top) + width * (len(temperatures) - 1) / 2, labels)
    ax.set_ylabel("probability")
    ax.set_xlabel("next character")
    ax.legend()
    fig.tight_layout()
    return fig
