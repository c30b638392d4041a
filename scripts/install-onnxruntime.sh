#!/usr/bin/env bash
# Installs the ONNX Runtime shared library that github.com/yalue/onnxruntime_go v1.27.0
# was built against (C API of ONNX Runtime 1.24.1), pinned and checksummed.
#
# Sources, tried in order:
#   1. the official release archive (needs the internet);
#   2. the onnxruntime-node package of the npm registry (`npm pack`), which ships the same
#      libonnxruntime.so.1 for linux x64 — the only source on machines that reach package
#      registries but not the rest of the internet.
# Destination: $MULTILABEL_ORT_DIR, default ${XDG_CACHE_HOME:-$HOME/.cache}/multilabel/onnxruntime/1.24.1
# (the place the engine looks when neither --ort-lib nor ONNXRUNTIME_LIB is set).
# Prints the library path on the last line of stdout.
set -euo pipefail

VERSION=1.24.1
RELEASE_URL="https://github.com/microsoft/onnxruntime/releases/download/v${VERSION}/onnxruntime-linux-x64-${VERSION}.tgz"
NPM_SPEC="onnxruntime-node@${VERSION}"
NPM_TGZ_SHA256=57181cf6e6e711b155c5b942d591fd63ded0b5de5c4922d51fd994e7f6ac2772
LIB_SHA256_FILE_NAME=libonnxruntime.so.1.sha256

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) echo "install-onnxruntime: only linux/x86_64 is scripted; install ONNX Runtime ${VERSION} yourself and set ONNXRUNTIME_LIB" >&2; exit 1 ;;
esac

DEST="${MULTILABEL_ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/multilabel/onnxruntime/${VERSION}}"
LIB="$DEST/libonnxruntime.so.1"
mkdir -p "$DEST"

if [ -f "$LIB" ] && [ -f "$DEST/$LIB_SHA256_FILE_NAME" ] && (cd "$DEST" && sha256sum -c --quiet "$LIB_SHA256_FILE_NAME" >/dev/null 2>&1); then
  echo "$LIB"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

got=""
# 1. Official archive, used when the caller pins its sha256 in MULTILABEL_ORT_OFFICIAL_SHA256
#    (we could not fetch it from here to pin it ourselves; the npm tarball below is pinned).
if [ -n "${MULTILABEL_ORT_OFFICIAL_SHA256:-}" ] && command -v curl >/dev/null; then
  if curl -fsSL --max-time 120 -o "$work/ort.tgz" "$RELEASE_URL" 2>/dev/null; then
    echo "${MULTILABEL_ORT_OFFICIAL_SHA256}  $work/ort.tgz" | sha256sum -c --quiet - >&2
    tar -xzf "$work/ort.tgz" -C "$work"
    so="$(find "$work" -name "libonnxruntime.so.${VERSION}" | head -n1)"
    [ -n "$so" ] && cp "$so" "$work/libonnxruntime.so.1" && got=official
  fi
fi

# 2. npm registry.
if [ -z "$got" ]; then
  command -v npm >/dev/null || { echo "install-onnxruntime: npm not found and the official archive is unreachable; download $RELEASE_URL, extract lib/libonnxruntime.so.${VERSION} to $LIB" >&2; exit 1; }
  (cd "$work" && npm pack --silent "$NPM_SPEC" >/dev/null)
  tgz="$work/onnxruntime-node-${VERSION}.tgz"
  echo "${NPM_TGZ_SHA256}  $tgz" | sha256sum -c --quiet - >&2
  tar -xzf "$tgz" -C "$work" package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  cp "$work/package/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$work/libonnxruntime.so.1"
  got=npm
fi

tmp="$LIB.tmp.$$"
cp "$work/libonnxruntime.so.1" "$tmp"
mv "$tmp" "$LIB"
(cd "$DEST" && sha256sum libonnxruntime.so.1 > "$LIB_SHA256_FILE_NAME")
echo "install-onnxruntime: installed ONNX Runtime ${VERSION} (from ${got}) at $LIB" >&2
echo "$LIB"
