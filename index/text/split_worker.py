"""Split sentences for another process: pickled batches of documents in, their sentences out."""

from __future__ import annotations

import pickle
import sys
from typing import BinaryIO

from index.text.windows import Sentence, split_sentences


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """Answer each batch with its documents' sentences, in order, until the input ends."""
    while True:
        try:
            params, documents = pickle.load(requests)
        except EOFError:
            return
        result: list[list[Sentence]] = [split_sentences(d, params) for d in documents]
        pickle.dump(result, replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
