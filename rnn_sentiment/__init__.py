"""Chapter 1: recurrent networks (SRN, LSTM) classifying IMDB movie reviews."""
