"""Chapter 2: a character-level LSTM that composes Irish folk tunes in ABC notation."""
