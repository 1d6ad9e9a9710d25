"""Train Verbatim's answer verifier from the SQuAD material in ../shared/eval (not run in CI)."""
