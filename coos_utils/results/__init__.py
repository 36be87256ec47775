"""Results folders: where a run's numbers and figures go, and the record of how they were made.

``results/<data-id>/<profile>/`` holds every file the book shows for one data set and profile
(:mod:`~coos_utils.results.paths`), a ``provenance.json`` (:mod:`~coos_utils.results.provenance`)
and the tables written and read by :mod:`~coos_utils.results.store`.
"""
