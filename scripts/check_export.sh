#!/usr/bin/env bash
# Trains one short run of every model family, exports each with `--layout pytorch --probe`, and checks with
# bench/pytorch/check_export.py that the PyTorch twins give genzoo's outputs (to 1e-4), that the twins'
# state dicts imported back draw the same samples for a seed, and, for a small
# PixelCNN trained on binarized MNIST, genzoo's test NLL (to 1e-3 nats).
#
#   GENZOO_DATA_DIR=/path/to/datasets scripts/check_export.sh OUT_DIR [GENZOO_BINARY]
#
# OUT_DIR must not exist. The runs use the MNIST presets on the embedded mini-MNIST (one step of batch 8:
# the outputs are compared, not the quality); the NLL run is 300 steps of a 2-block PixelCNN.
set -euo pipefail
out=${1:?usage: scripts/check_export.sh OUT_DIR [GENZOO_BINARY]}
genzoo=${2:-target/release/genzoo}
here=$(cd "$(dirname "$0")/.." && pwd)
: "${GENZOO_DATA_DIR:?set GENZOO_DATA_DIR to the directory holding binarized-mnist/}"
[ ! -e "$out" ] || { echo "$out exists; pass a new directory" >&2; exit 1; }
mkdir -p "$out"
exports=()
for model in autoencoder vae vae-conv pixelcnn gated-pixelcnn cond-pixelcnn row-lstm diagonal-bilstm gan dcgan; do
    "$genzoo" train "$model" --dataset mnist-mini --steps 1 --batch-size 8 --out "$out/$model" --no-progress \
        >/dev/null 2>"$out/$model.log"
    "$genzoo" export "$out/$model" --checkpoint last --layout pytorch \
        --out "$out/$model.safetensors" --probe "$out/$model.probe.safetensors" >/dev/null
    exports+=("$out/$model.safetensors")
done
mkdir "$out/torch"
python3 "$here/bench/pytorch/check_export.py" "${exports[@]}" --resave "$out/torch"

# The round trip: the twins' state dicts, imported as new runs, draw genzoo's samples bit for bit.
for model in vae vae-conv pixelcnn gated-pixelcnn cond-pixelcnn row-lstm diagonal-bilstm gan dcgan; do
    "$genzoo" import "$out/torch/$model.safetensors" --model "$model" --out "$out/$model-from-torch" >/dev/null
    fast=()
    case "$model" in *pixelcnn | row-lstm | diagonal-bilstm) fast=(--fast) ;; esac
    for run in "$model" "$model-from-torch"; do
        "$genzoo" sample "$out/$run" --checkpoint last --n 4 --seed 7 "${fast[@]}" --out "$out/$run-seed7.png" >/dev/null
    done
    cmp "$out/$model-seed7.png" "$out/$model-from-torch-seed7.png"
    echo "$model: samples of seed 7 identical after export -> PyTorch state_dict -> import"
done

cat >"$out/nll.toml" <<'TOML'
[model_config]
channels = 1
image_size = 28
hidden = 32
residual_blocks = 2
first_kernel = 7
block_kernel = 3
head_hidden = 32
levels = 2
TOML
"$genzoo" train pixelcnn --dataset binarized-mnist --config "$out/nll.toml" --steps 300 --batch-size 32 \
    --sample-every 100000 --checkpoint-every 100000 --out "$out/nll" --no-progress >/dev/null 2>"$out/nll.log"
"$genzoo" eval "$out/nll" --metrics nll --json >"$out/nll-eval.json"
"$genzoo" export "$out/nll" --layout pytorch --out "$out/nll.safetensors" >/dev/null
python3 "$here/bench/pytorch/check_export.py" "$out/nll.safetensors" --nll "$out/nll-eval.json" \
    --data "$GENZOO_DATA_DIR/binarized-mnist"
