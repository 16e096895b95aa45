"""Loaded by pytest before Django is set up: select the fast test settings."""
import os

os.environ.setdefault("DJANGO_ENV", "test")
