#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# npm_fixture.sh DEST: the npm projects of tests/bench/build.sh, built
# once from the real npm registry and cached in DEST (build.sh uses
# /var/tmp/stratafs-bench/npm-v1):
#   DEST/app/              package.json + package-lock.json of a 22-package
#                          project (express, react, typescript, webpack,
#                          eslint, jest, babel, ...)
#   DEST/cache-app/        its npm cache after `npm install` (what
#                          `npm ci --offline` needs, nothing else)
#   DEST/small/            package.json + package-lock.json of a
#                          6-dependency service (express, axios, ...: 84
#                          packages), resolved offline from cache-app: the
#                          build that reads a little of a big cache
#   DEST/cache-big/        the npm cache of several projects: cache-app's
#                          content plus other projects' packages and older
#                          versions of large packages (`npm cache add`),
#                          as big as BIG_MB (default 1100) allows
# Needs npm and the npm registry; takes a few minutes once.
# `npm_fixture.sh --small DEST` adds DEST/small to an existing fixture
# (offline).
set -euo pipefail
SMALL_ONLY=0
[ "${1:-}" = --small ] && { SMALL_ONLY=1; shift; }
DEST=$1
BIG_MB=${BIG_MB:-1100}
TMP="$DEST.tmp.$$"
rm -rf "$TMP"
mkdir -p "$TMP/app"
trap 'rm -rf "$TMP"' EXIT
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false
export PUPPETEER_SKIP_DOWNLOAD=1 ELECTRON_SKIP_BINARY_DOWNLOAD=1

# small_project CACHE DIR: the small project's lockfile, resolved from CACHE
small_project() {
	mkdir -p "$2"
	cat >"$2/package.json" <<'EOF'
{
  "name": "bench-small",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "express": "4.19.2", "lodash": "4.17.21", "axios": "1.7.2", "uuid": "10.0.0",
    "dayjs": "1.11.11", "commander": "12.1.0"
  }
}
EOF
	(cd "$2" && npm install --offline --ignore-scripts --omit-lockfile-registry-resolved=false \
		--cache "$1" >"$2.log" 2>&1) || { tail -20 "$2.log" >&2; return 1; }
	rm -rf "$2/node_modules" "$2.log"
}
if [ "$SMALL_ONLY" = 1 ]; then
	# on a copy: npm install writes to its cache
	cp -a "$DEST/cache-app" "$TMP/cache"
	small_project "$TMP/cache" "$TMP/small"
	rm -rf "$DEST/small"
	mv "$TMP/small" "$DEST/small"
	exit 0
fi

cat >"$TMP/app/package.json" <<'EOF'
{
  "name": "bench-app",
  "version": "1.0.0",
  "private": true,
  "dependencies": {
    "express": "4.19.2", "lodash": "4.17.21", "react": "18.3.1", "react-dom": "18.3.1",
    "axios": "1.7.2", "moment": "2.30.1", "chalk": "4.1.2", "commander": "12.1.0",
    "rxjs": "7.8.1", "uuid": "10.0.0", "dayjs": "1.11.11"
  },
  "devDependencies": {
    "typescript": "5.4.5", "webpack": "5.92.1", "webpack-cli": "5.1.4", "eslint": "8.57.0",
    "jest": "29.7.0", "@babel/core": "7.24.7", "@babel/preset-env": "7.24.7",
    "prettier": "3.3.2", "ts-node": "10.9.2", "mocha": "10.4.0", "sass": "1.77.6"
  }
}
EOF
# resolved URLs in the lockfile (Debian's npm leaves them out by default):
# then `npm ci --offline` needs the tarballs only, no packument
(cd "$TMP/app" && npm install --ignore-scripts --omit-lockfile-registry-resolved=false \
	--cache "$TMP/cache-app" >"$TMP/install.log" 2>&1) ||
	{ tail -20 "$TMP/install.log" >&2; exit 1; }
rm -rf "$TMP/app/node_modules"
cp -a "$TMP/cache-app" "$TMP/cache-small"
small_project "$TMP/cache-small" "$TMP/small"
rm -rf "$TMP/cache-small"
cp -a "$TMP/cache-app" "$TMP/cache-big"

# Other projects' packages and older versions of big ones, until BIG_MB.
more=(
	@angular/core@17.3.12 @angular/compiler@17.3.12 @angular/cli@17.3.8 @angular/material@17.3.10
	next@14.2.4 next@13.5.6 next@12.3.4 @mui/material@5.15.20 @mui/icons-material@5.15.20
	@mui/icons-material@5.14.19 @mui/icons-material@5.11.16 aws-sdk@2.1646.0 aws-sdk@2.1500.0
	googleapis@140.0.0 googleapis@120.0.0 googleapis@105.0.0 firebase@10.12.2
	@swc/core-linux-x64-gnu@1.6.5 @swc/core-linux-x64-musl@1.6.5 @swc/core-linux-x64-gnu@1.5.7
	esbuild-linux-64@0.15.18 @esbuild/linux-x64@0.21.5 @esbuild/linux-x64@0.20.2
	typescript@5.3.3 typescript@5.2.2 typescript@5.1.6 typescript@5.0.4 typescript@4.9.5
	typescript@4.8.4 typescript@4.7.4 typescript@4.6.4 typescript@4.5.5 typescript@4.4.4
	@next/swc-linux-x64-gnu@14.2.4 @next/swc-linux-x64-musl@14.2.4 @next/swc-linux-x64-gnu@13.5.6
	@next/swc-linux-x64-musl@13.5.6 @next/swc-linux-x64-gnu@12.3.4 prisma@5.15.1 @prisma/client@5.15.1
	@fortawesome/fontawesome-free@6.5.2 @fortawesome/fontawesome-free@5.15.4 pdfjs-dist@4.4.168
	monaco-editor@0.50.0 monaco-editor@0.45.0 three@0.165.0 three@0.150.1 echarts@5.5.0
	@tensorflow/tfjs@4.20.0 plotly.js@2.33.0 plotly.js-dist@2.33.0 @babylonjs/core@7.12.0
	@ffmpeg/core@0.12.6 sql.js@1.10.3 react-native@0.74.2 react-native@0.73.8 @sentry/browser@8.11.0
	vue@3.4.29 svelte@4.2.18 @vue/compiler-sfc@3.4.29 ckeditor5@42.0.0 antd@5.18.3 antd@4.24.16
	elkjs@0.9.3 mathjax-full@3.2.2 katex@0.16.10 lighthouse@12.1.0 playwright-core@1.45.0
	playwright-core@1.40.1 puppeteer-core@22.12.0 @aws-sdk/client-s3@3.600.0 @aws-sdk/client-ec2@3.600.0
	@aws-sdk/client-ec2@3.500.0 @aws-sdk/client-sagemaker@3.600.0 @azure/arm-network@33.2.0
	typescript@4.3.5 typescript@4.2.4 typescript@4.1.6 typescript@4.0.8 next@14.1.4 next@14.0.4
)
for p in "${more[@]}"; do
	[ "$(du -sm "$TMP/cache-big" | cut -f1)" -lt "$BIG_MB" ] || break
	npm cache add "$p" --cache "$TMP/cache-big" >>"$TMP/install.log" 2>&1 ||
		echo "npm_fixture.sh: skipping $p (npm cache add failed)" >&2
done
echo "npm_fixture.sh: cache-app $(du -sh "$TMP/cache-app" | cut -f1), cache-big $(du -sh "$TMP/cache-big" | cut -f1)" >&2
rm -rf "$DEST"
mv "$TMP" "$DEST"
trap - EXIT
