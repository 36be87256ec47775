"""The book: chapter declarations, chapter setup, the papermill pipeline and its checks."""
