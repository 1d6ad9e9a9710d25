"""Who spoke with whom: people, the parse patterns, the cached graph, its questions and picture."""
