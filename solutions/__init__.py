"""Instructor solutions to the lab exercises (see README.md)."""
