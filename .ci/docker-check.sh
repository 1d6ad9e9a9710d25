#!/usr/bin/env bash
# Build the Dockerfile unchanged and smoke-run it with the network off, on a machine with no
# Docker engine and no registry: Debian's docker.io is started by hand, python:3.11-slim is a
# debootstrapped stand-in, and the local CPU torch wheel is served as a package index.
set -euo pipefail
CTX=$(pwd)
W=${DOCKER_CI_DIR:-/tmp/verbatim-docker-ci}
mkdir -p "$W"
t0=$(date +%s)
lap() { echo "[docker-check $(( $(date +%s) - t0 ))s] $*"; }

if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io debootstrap >/dev/null
fi
lap "tools ready"

DOCKER_PID=""; HTTP_PID=""
cleanup() {
  [ -n "$HTTP_PID" ] && kill "$HTTP_PID" 2>/dev/null || true
  if [ -n "$DOCKER_PID" ]; then
    kill "$DOCKER_PID" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 "$DOCKER_PID" 2>/dev/null || break; sleep 1; done
  fi
}
trap cleanup EXIT
/usr/sbin/dockerd --data-root "$W/data" --exec-root "$W/exec" --pidfile "$W/dockerd.pid" \
  -H "unix://$W/docker.sock" >"$W/dockerd.log" 2>&1 &
DOCKER_PID=$!
export DOCKER_HOST="unix://$W/docker.sock"
for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null
lap "dockerd up (pid $DOCKER_PID)"

if ! docker image inspect python:3.11-slim >/dev/null 2>&1; then
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -x "$W/rootfs/bin/sh" ] || debootstrap --variant=minbase bookworm "$W/rootfs" ${mirror:+"$mirror"} >"$W/debootstrap.log"
  tar -C "$W/rootfs" -c . | docker import - local/debian:bookworm >/dev/null
  mkdir -p "$W/base"
  cp /usr/local/share/ca-certificates/*.crt "$W/base/" 2>/dev/null || true
  cat >"$W/base/Dockerfile" <<'DOCKERFILE'
FROM local/debian:bookworm
ENV LANG=C.UTF-8 PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
COPY . /usr/local/share/ca-certificates/
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-pip python3-venv ca-certificates \
 && rm -f /usr/local/share/ca-certificates/Dockerfile && update-ca-certificates \
 && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED \
 && ln -s /usr/bin/python3 /usr/local/bin/python && ln -s /usr/bin/pip3 /usr/local/bin/pip \
 && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
DOCKERFILE
  docker build -q -t python:3.11-slim "$W/base" >/dev/null
fi
lap "base image python:3.11-slim (stand-in) ready"

mkdir -p "$W/idx/simple/torch"
wheel=$(ls /opt/wheels/torch-2.13.0+cpu-cp311-*.whl | head -1)
ln -sf "$wheel" "$W/idx/"
name=$(basename "$wheel")
echo "<a href=\"../../${name//+/%2B}\">$name</a>" >"$W/idx/simple/torch/index.html"
python3 -m http.server --bind 127.0.0.1 8765 --directory "$W/idx" >"$W/http.log" 2>&1 &
HTTP_PID=$!
sleep 1

build_start=$(date +%s)
if ! docker build --network host --build-arg TORCH_INDEX_URL=http://127.0.0.1:8765/simple \
  -t verbatim:ci "$CTX" >"$W/build.log" 2>&1; then
  tail -60 "$W/build.log"
  exit 1
fi
lap "image built in $(( $(date +%s) - build_start ))s"
docker image ls verbatim:ci --format 'image size: {{.Size}}'

out=$(docker run --rm --network none verbatim:ci ask "Who spoke with whom?")
echo "$out"
for name in "Sergei Shoigu" "Mark Milley" "Lloyd Austin"; do
  grep -q "$name" <<<"$out" || { echo "smoke run did not quote $name"; exit 1; }
done
docker run --rm --network none verbatim:ci run >/dev/null 2>"$W/run.err" && { echo "run without a token should exit 2"; exit 1; }
# The same image on a database: the client is inside, and a wrong URL is one line, not a traceback.
docker run --rm --network none -e VERBATIM_DATABASE_URL=postgresql://verbatim@127.0.0.1:9/none verbatim:ci migrate 2>"$W/migrate.err" && { echo "migrate without a database should fail"; exit 1; }
grep -q "VERBATIM_DATABASE_URL: cannot connect" "$W/migrate.err"
grep -q "python -m bot chat" "$W/run.err"
docker run --rm --network none --user 10001 verbatim:ci python -c "import os; assert os.getuid() == 10001" 2>/dev/null \
  || docker run --rm --network none --entrypoint python verbatim:ci -c "import os; assert os.getuid() == 10001"
lap "smoke runs ok"
