#!/usr/bin/env bash
# Trains one model on a GPU for a fixed number of minutes and leaves its run directory (checkpoints, metrics,
# samples, report) in OUT, to be brought back and continued anywhere with `genzoo train --resume OUT/run`.
#
#   scripts/gpu-train.sh GENZOO OUT MINUTES MODEL [genzoo train flags…]
#
# GENZOO is a release `genzoo` built with `--features genzoo-cli/wgpu` (or `cuda`); the data are read from
# $GENZOO_DATA_DIR (a GPU machine without network access needs the dataset folders carried with the binary).
# BACKEND [wgpu] picks genzoo's --backend. Training stops after MINUTES of wall time, then evaluates and saves as
# at the end of a run. OUT/run must not exist (use --resume OUT/run in the flags to continue one).
#   scripts/gpu-train.sh target/release/genzoo /tmp/out 8 pixelcnn --dataset binarized-mnist --lr-decay 0.95
# A dry run on a machine without a GPU (Mesa lavapipe):
#   scripts/gpu-train.sh target/release/genzoo /tmp/gpu-train 1 pixelcnn --dataset mnist-mini --steps 2
set -uo pipefail
. "$(dirname "$0")/common.sh"
usage_unless 4 "$#"
genzoo_binary "$1"
out=$2
minutes=$3
model=$4
shift 4
backend=${BACKEND:-wgpu}
mkdir -p "$out"
{
  machine_record
  echo "command: genzoo train $model --backend $backend --max-minutes $minutes $*"
} > "$out/machine.txt"
resume=0
for a in "$@"; do [ "$a" = "--resume" ] && resume=1; done
if [ "$resume" = 1 ]; then
  run=()
else
  run=(--out "$out/run")
fi
start=$(date +%s)
"$genzoo" train "$model" --backend "$backend" --max-minutes "$minutes" --no-progress "${run[@]}" "$@" \
  2>&1 | tee "$out/train.log"
status=${PIPESTATUS[0]}
echo "train exited with $status after $(( $(date +%s) - start )) s" | tee -a "$out/machine.txt"
exit "$status"
