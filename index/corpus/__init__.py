"""The corpus: files and fetched pages read into documents with exact text and paragraph spans."""
