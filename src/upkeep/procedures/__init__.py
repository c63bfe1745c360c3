"""Responsible for the tested library code that runbooks call, one module per procedure family."""
