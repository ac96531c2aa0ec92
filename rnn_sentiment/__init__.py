"""Chapter 1: recurrent networks (SRN, LSTM) classifying IMDB movie reviews.

``python -m rnn_sentiment --profile cpu`` trains and saves the chapter's models;
``load_best_model()`` loads the best of them back to score new reviews.

Reproducibility: with one seed, a rerun on the same machine gives the same weights bit for bit,
in one process or two, and a run interrupted and resumed ends where an unbroken one does. On
another machine it need not: TensorFlow's CPU kernels round differently with the instruction
set they pick and the number of threads, and training grows those last-bit differences into
a few tenths of a point of accuracy, as much as another seed gives (docs/decisions.md has the
measurements). Compare means over seeds, not one seed's run across machines.
"""


def load_best_model(folder=None, profile=None, name=None):
    """The saved model that did best on validation, as a ``scorer.SentimentScorer``.

    ``scorer.load_best_model`` documents the arguments; this wrapper keeps
    ``import rnn_sentiment`` from loading TensorFlow.
    """
    from rnn_sentiment.scorer import load_best_model as load

    return load(folder, profile, name)
