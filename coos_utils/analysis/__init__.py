"""Analysis: metrics, confusion and sensitivity, model selection on `train`, the paper's claims."""
