"""Train the tune model, sample tunes, check them, and write everything the notebook shows.

    python -m rnn_music --profile cpu

Everything goes to training_checkpoints/rnn_music/<profile>/; a rerun resumes or reloads.
"""

from __future__ import annotations

import json
import statistics

import course  # noqa: F401  (quiets TensorFlow's C++ logs before it is imported)
from course.atomic import atomic_write_text
from course.env import environment_report, set_seed
from course.figures import save_figure
from course.profiles import profile_from_command_line
from rnn_music import plots
from rnn_music.abc_tools import (
    INSTALL_HINT,
    CopyFinder,
    check_tune,
    render_tune,
    tools_available,
    valid_fraction,
)
from rnn_music.config import get_config
from rnn_music.data import join_tunes, load_splits

NUM_RENDERED = 3  # tunes written as .abc/.svg/.mid/.wav/.ogg with a piano roll


def main(argv=None) -> dict:
    config = get_config(profile_from_command_line(__doc__, argv))
    # Imported only once the command line is read: they load TensorFlow (seconds), and a
    # mistyped --profile or --help should answer at once.
    from rnn_music.bar_sampler import sample_tunes_bar_checked
    from rnn_music.model import Generator, nats_per_character, sample_tunes
    from rnn_music.train import run_dir, train
    print(environment_report(config.profile), flush=True)
    out = run_dir(config)
    splits = load_splits(config)
    print(f"{len(splits.train_tunes)} training tunes, {len(splits.heldout_tunes)} held out, "
          f"{splits.vocabulary.size} characters", flush=True)

    set_seed(config.seed)
    model, history = train(splits, config)
    save_figure(plots.plot_history(history, config.steps_per_checkpoint), out / "history.png")
    generator = Generator(model, splits.vocabulary)
    heldout = nats_per_character(generator, splits.vocabulary.encode(splits.heldout_text))
    print(f"held-out loss: {heldout:.4f} nats/char (state carried through each tune)")

    plain_tunes = sample_tunes(
        generator, config.num_sampled_tunes, config.temperature, config.num_streams,
        config.stream_length, seed=config.seed,
    )
    sampling = sample_tunes_bar_checked(
        generator, config.num_sampled_tunes, config.temperature, seed=config.seed,
        max_redraws=config.max_bar_redraws, max_length=config.max_tune_length,
    )
    tunes = sampling.tunes  # the chapter's tunes: bar-checked
    atomic_write_text(out / "generated_plain.abc", join_tunes(plain_tunes))
    atomic_write_text(out / "generated.abc", join_tunes(tunes))
    finder = CopyFinder(splits.train_text)
    copied = [len(finder.longest_copy(tune)) for tune in tunes]
    metrics = {
        "profile": config.profile,
        "train_steps": int(history["steps"][-1]),
        "train_seconds": round(history["seconds"][-1], 1),
        "heldout_nats_per_char": round(heldout, 4),
        "tunes_sampled": len(tunes),
        "temperature": config.temperature,
        "bar_sampling": sampling.summary(),
        "longest_copied_run_median": statistics.median(copied) if copied else None,
        "longest_copied_run_max": max(copied, default=None),
    }
    if tools_available():
        checks = [check_tune(tune) for tune in tunes]
        corpus = splits.train_tunes + splits.heldout_tunes
        metrics["valid_fraction"] = sum(c.valid for c in checks) / max(1, len(checks))
        metrics["valid_fraction_plain"] = valid_fraction(plain_tunes) if plain_tunes else 0.0
        metrics["corpus_valid_fraction"] = sum(check_tune(t).valid for t in corpus) / len(corpus)
        order = sorted(range(len(tunes)), key=lambda i: not checks[i].valid)  # valid ones first
    else:
        print(f"abc2midi/timidity not found: tunes are not checked or played. {INSTALL_HINT}")
        order = list(range(len(tunes)))
    rolls = []
    for rank, index in enumerate(order[:NUM_RENDERED]):
        rendered = render_tune(tunes[index], out, f"tune_{rank + 1}")
        for message in (rendered.sheet_message, rendered.message):
            if message:
                print(message)
        rolls.append((f"generated tune {rank + 1}", rendered.notes, rendered.bar_lines))
    if rolls:
        save_figure(plots.plot_piano_rolls(rolls), out / "piano_rolls.png")
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1))
    print(json.dumps(metrics, indent=1))
    print(f"wrote the model, samples (.abc/.svg/.mid/.wav/.ogg), metrics and figures to {out}")
    return metrics


if __name__ == "__main__":
    main()
