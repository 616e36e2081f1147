"""This machine, made ready for swarms and their checks: its Docker engine, the images, the
report tooling, and the history checker (``history_checker``), each built or installed once."""
