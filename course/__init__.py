"""Shared infrastructure of the course: data fetching, profiles, seeding, progress, checkpoints.

Import the submodules you need (``from course import profiles``); this package imports nothing
heavy by itself. It only sets TensorFlow's C++ log level, which must happen before TensorFlow is
first imported anywhere, so that its start-up chatter stays out of notebook outputs.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
