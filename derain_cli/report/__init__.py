"""Evaluation reports people look at: one self-contained HTML page (``derain eval --report``)."""
