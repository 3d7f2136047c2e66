#!/bin/sh
# Refresh the vendored browser libraries (pinned, unmodified, with their licences) from the npm
# registry. Run by `make vendor`; the results are committed so `make run` never needs npm.
set -eu
DEST="$(cd "$(dirname "$0")/.." && pwd)/src/wacrm/web/static/vendor"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# package@version | files to copy from the package (relative to package/) | target folder
fetch() {
  spec="$1"; target="$2"; shift 2
  mkdir -p "$TMP/$target"
  (cd "$TMP/$target" && npm pack --silent "$spec" >/dev/null && tar -xzf ./*.tgz)
  rm -rf "${DEST:?}/$target"
  mkdir -p "$DEST/$target"
  for f in "$@"; do cp "$TMP/$target/package/$f" "$DEST/$target/"; done
  cp "$TMP/$target/package/LICENSE"* "$DEST/$target/" 2>/dev/null \
    || cp "$TMP/$target/package/LICENCE"* "$DEST/$target/"
  echo "$spec" > "$DEST/$target/VERSION"
  echo "vendored $spec -> static/vendor/$target"
}

fetch htmx.org@2.0.8 htmx dist/htmx.min.js
fetch htmx-ext-sse@2.2.4 htmx-ext-sse dist/sse.min.js
fetch chart.js@4.5.0 chartjs dist/chart.umd.min.js
# Swagger UI for /api/docs (served from the package under the CSP; no CDN)
fetch swagger-ui-dist@5.35.0 swagger-ui swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt \
  swagger-ui.css NOTICE
fetch emoji-picker-element@1.29.1 emoji-picker-element index.js picker.js database.js
fetch emoji-picker-element-data@1.8.0 emoji-picker-element-data en/emojibase/data.json
