"""The Textual front end: a thin layer over the engine."""
