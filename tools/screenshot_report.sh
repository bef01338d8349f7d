#!/bin/sh
# Renders an output folder's report.html in headless Chromium (Debian package `chromium`) and
# saves a full-page PNG, to check the page as a browser shows it. Not used by CI.
#
#   tools/screenshot_report.sh out/report.html out/report.png [WIDTH] [HEIGHT]
#
# Flags: no sandbox (root in containers), no GPU, and no background networking / component
# updates / sync, so that Chromium makes no network connection (the page itself needs none).
set -eu
html=$(realpath "$1")
png=$(realpath -m "$2")
width=${3:-1100}
height=${4:-4200}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --window-size="$width,$height" \
  --screenshot="$png" "file://$html" 2>/dev/null
echo "wrote $png"
