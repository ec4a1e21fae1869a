"""Fault tests through the real server: gunicorn (or `make run`'s runserver) on 127.0.0.1,
a throwaway PostgreSQL, and POS terminals as threads in the test posting over loopback.

Run by `make test-faults` (scripts/test-faults), not by `make test`: each test loads the
machine for a minute or so. Every test prints its figures and has a hard time limit.
"""
