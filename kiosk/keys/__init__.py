"""Everything that touches a security key. Never imports Textual."""
