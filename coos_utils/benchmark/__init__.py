"""Running the benchmark: splits -> representations -> classifiers -> predictions.

``representations`` (every representation by name, above ``features`` and ``models``),
``table3`` (the paper's Table 3, run), ``classifiers`` and ``classifier_cache`` (the
classifiers and their cache), ``learned`` (the learned representations' training),
``predictions`` (reading prediction files) and
``your_model`` (a model of one's own, trained and written as prediction files). Scoring those
files into a results folder is the application module :mod:`coos_utils.scoring`.
"""
