"""Presentation: every table, figure and generated sentence the chapters show (the only
package that plots).

One figure style (``style``); figures: ``figures`` (cells, errors, the headline, confusion
grids, sensitivity heatmaps), ``dataset_figures`` (the dataset chapter's measurements),
``dg_figures`` and ``dg_forest`` (the DG chapter); tables for reading: ``tables``,
``comparison``; each chapter's opening answer and the intro's "at a glance": ``findings``;
per chapter, the views that keep control flow out of its cells: ``chapter_dataset``,
``chapter_features``, ``chapter_table3``, ``chapter_confusion``, ``chapter_dg``,
``chapter_your_model``. Each function returns a frame, a Styler, a string or a Figure; the
chapter saves and shows it.
"""
