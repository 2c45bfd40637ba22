"""The enrollment engine. Never imports Textual."""
