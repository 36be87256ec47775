"""Presentation: every table and figure the chapters show (the only package that plots).

Figures: ``figures`` (cells, errors, confusion, training curves), ``dataset_figures`` (the
dataset chapter's measurements), ``dg_figures`` (the DG chapters); tables and sentences:
``tables``, ``comparison``, ``findings``. Each function returns a frame, a string or a Figure;
the chapter saves it.
"""
