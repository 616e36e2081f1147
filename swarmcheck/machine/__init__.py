"""This machine, made ready for swarms: its Docker engine, the images, the report tooling."""
