#!/usr/bin/env bash
# genzoo on a GPU against PyTorch CUDA on the same machine, in alternated rounds, inside a time budget.
#
#   scripts/gpu-bench.sh GENZOO OUT [ROUNDS]
#
# GENZOO is a release `genzoo` built on any machine with `--features genzoo-cli/wgpu` (or `cuda`); OUT a folder
# that receives, per round r, genzoo-r.json and torch-r.json (the records of `genzoo bench` and of
# `bench/pytorch/reference.py`), their logs, machine.txt (GPU, driver, CPU) and table.md (`scripts/bench_table.py`
# over the rounds done). A round is skipped when less than its expected length is left of the budget.
#
# Environment (defaults in brackets):
#   BUDGET_S [480]          whole run, seconds        BACKEND [wgpu]      genzoo's --backend
#   TORCH_DEVICE [cuda]     reference.py's --device    ONLY [every preset] comma-separated presets
#   WARMUP [5] REPEATS [5] STEPS [10]                  the timing of both sides
# A dry run on a machine without a GPU (Mesa lavapipe, PyTorch on the CPU):
#   BUDGET_S=300 TORCH_DEVICE=cpu ONLY=autoencoder,vae WARMUP=1 REPEATS=1 STEPS=1 scripts/gpu-bench.sh target/release/genzoo /tmp/gpu
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/common.sh"
usage_unless 2 "$#"
genzoo_binary "$1"
out=$2
rounds=${3:-2}
budget=${BUDGET_S:-480}
backend=${BACKEND:-wgpu}
device=${TORCH_DEVICE:-cuda}
only=${ONLY:-autoencoder,vae,vae-conv,pixelcnn,cond-pixelcnn,dcgan,gan,row-lstm,diagonal-bilstm}
timing=(--warmup "${WARMUP:-5}" --repeats "${REPEATS:-5}" --steps "${STEPS:-10}")
start=$(date +%s)
mkdir -p "$out"

{
  machine_record
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1
} > "$out/machine.txt"
cat "$out/machine.txt"

left() { echo $(( budget - ($(date +%s) - start) )); }
# Runs a command with what is left of the budget as its limit; returns its status.
bounded() {
  local limit
  limit=$(left)
  [ "$limit" -gt 10 ] || return 124
  timeout --kill-after=10 "$limit" "$@"
}

round_s=0
for r in $(seq 1 "$rounds"); do
  if [ "$r" -gt 1 ] && [ "$(left)" -lt "$round_s" ]; then
    echo "round $r skipped: $(left) s left, a round took $round_s s"
    break
  fi
  t0=$(date +%s)
  echo "== round $r: genzoo ($backend)"
  bounded "$genzoo" bench --backend "$backend" --only "$only" "${timing[@]}" --samples 0 \
    --json "$out/genzoo-$r.json" > "$out/genzoo-$r.log" 2>&1
  echo "   status $? ($(( $(date +%s) - t0 )) s)"
  t1=$(date +%s)
  echo "== round $r: PyTorch ($device)"
  bounded python3 "$here/bench/pytorch/reference.py" --device "$device" --only "$only" "${timing[@]}" \
    --json "$out/torch-$r.json" > "$out/torch-$r.log" 2>&1
  echo "   status $? ($(( $(date +%s) - t1 )) s)"
  round_s=$(( $(date +%s) - t0 ))
done

shopt -s nullglob
g=("$out"/genzoo-*.json)
t=("$out"/torch-*.json)
if [ ${#g[@]} -gt 0 ] && [ ${#t[@]} -gt 0 ]; then
  python3 "$here/scripts/bench_table.py" --genzoo "${g[@]}" --torch "${t[@]}" \
    --labels "PyTorch $device,genzoo $backend" | tee "$out/table.md"
fi
echo "done in $(( $(date +%s) - start )) s"
