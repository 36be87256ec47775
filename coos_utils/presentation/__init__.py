"""Presentation: the tables and figures the chapters show, each saved as a file."""
