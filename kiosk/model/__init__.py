"""The shared vocabulary: plain types every layer speaks, with no behaviour worth a layer.

Steps, queue statuses and rows, the timing of one HTTP attempt, what a key is and what it
made, the base64 codecs for credential ids, the audit report, and the cleaning of strings from
outside (:mod:`kiosk.model.text`). This package imports nothing of
the kiosk's own and nothing that does I/O, so any layer may import it and it never pulls a
higher one in (the import contracts in ``pyproject.toml`` hold it to that).
"""
