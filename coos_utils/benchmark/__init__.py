"""Running the benchmark: splits -> representations -> classifiers -> predictions."""
