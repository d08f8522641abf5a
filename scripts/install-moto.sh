#!/usr/bin/env bash
# Installs moto server (the local AWS emulator the integration tests use) when it is not already importable.
# Order: an existing moto (pip or Debian), then Debian trixie's python3-moto on top of bookworm's dependencies,
# then pip. Idempotent; prints the python that can run `-m moto.server`.
set -euo pipefail

has_moto() { "$1" -c 'import moto, moto.server, flask' >/dev/null 2>&1; }

for py in "${MOTO_PYTHON:-}" /usr/bin/python3 python3; do
  [ -n "$py" ] || continue
  if command -v "$py" >/dev/null 2>&1 && has_moto "$py"; then echo "$py"; exit 0; fi
done

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "installing moto's dependencies from the system's Debian release" >&2
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends python3-boto3 python3-botocore python3-flask python3-flask-cors \
    python3-werkzeug python3-responses python3-xmltodict python3-cryptography python3-jinja2 python3-dateutil \
    python3-requests python3-antlr4 python3-yaml >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" >"$tmp/sources.list"
  apt_opts=(-o "Dir::Etc::sourcelist=$tmp/sources.list" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$tmp/lists"
    -o "Dir::Cache=$tmp/cache" -o "APT::Get::List-Cleanup=0")
  echo "fetching python3-moto from Debian trixie" >&2
  apt-get "${apt_opts[@]}" update -qq >&2
  (cd "$tmp" && apt-get "${apt_opts[@]}" download python3-moto >&2)
  dpkg -i "$tmp"/python3-moto_*.deb >&2 || dpkg -i --force-depends "$tmp"/python3-moto_*.deb >&2
  if has_moto /usr/bin/python3; then echo /usr/bin/python3; exit 0; fi
fi

echo "falling back to pip install moto[server]" >&2
python3 -m pip install --quiet "moto[server]>=5.1,<6" >&2
has_moto python3 && { command -v python3; exit 0; }
echo "could not install moto server; see the README's 'Running the tests' section" >&2
exit 1
