"""Running the benchmark: splits -> representations -> classifiers -> predictions.

``representations`` (every representation by name, above ``features`` and ``models``),
``table3`` (the paper's Table 3, run), ``classifiers`` and ``classifier_cache`` (the
classifiers and their cache), ``learned`` (the learned representations' training),
``scoring`` (one split's predictions scored in memory, as Table 3 scores its rows),
``predictions`` (reading prediction files), ``evaluation`` (a folder of them scored) and
``your_model`` (a model of one's own, trained and written as prediction files). Writing an
evaluation's results folder is :mod:`coos_utils.results.evaluation`'s job.
"""
