"""What the documents could not answer: each server's gap log, and its report grouped by meaning."""
