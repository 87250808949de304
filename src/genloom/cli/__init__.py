"""The ``genloom`` command line: one module per command, errors turned into messages only here."""
