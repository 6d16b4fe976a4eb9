"""Load and crash runs against a real gunicorn on 127.0.0.1 (see docs/RELIABILITY.md).

`python -m reliability.load --db sqlite|postgresql` and `python -m reliability.crash --db ...`.
"""
