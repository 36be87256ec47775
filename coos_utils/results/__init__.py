"""Results folders: reading and writing what a run computed, and the record of how it was made.

``results/<data-id>/<profile>/`` (the id from :func:`coos_utils.identity.data_id`) holds every
file the book shows for one data set and profile: a ``provenance.json``
(:mod:`~coos_utils.results.provenance`), the tables and figures written and read by
:mod:`~coos_utils.results.store`; :mod:`~coos_utils.results.evaluation` writes the folder of a
scored model (``<data-id>/eval-<name>/``), and :mod:`~coos_utils.results.collect` lists folders
and sets them side by side. This package computes nothing: callers pass the frames to write.
"""
