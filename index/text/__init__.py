"""Text: sentences with exact offsets, sentence windows, the BM25 analyser, progress lines."""
