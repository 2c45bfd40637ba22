"""Operators and admins: who may sign in, and how (no Textual here).

How an operator signs in, in one place:

- :mod:`kiosk.config` declares the ``[[kiosk.operators]]`` tables (name, role operator or
  admin, PIN hash, optional key credential) and checks their types;
- :mod:`.sign_in` refuses to start a kiosk nobody can sign in to or stop
  (:func:`~.sign_in.check_sign_in`) and checks a typed PIN for a named person
  (:class:`~.sign_in.SignInGate`), reporting failed sign-ins, pauses, admin unlocks and the
  admin's exit for the audit trail;
- :mod:`.pin_hash`: scrypt hashes with bounded cost; :mod:`.throttle`: the growing back-off
  that survives a pause and a restart; :mod:`.idle`: the idle lock;
- :mod:`.key_sign_in`: sign-in with the operator's own FIDO2 key (with the key's PIN unless
  an admin turns that off), and the silent check that keeps operator keys from being
  enrolled for a user. Its CTAP calls are in :mod:`kiosk.keys.assertion`.
"""
