#!/usr/bin/env bash
# Checks that a release `genzoo` picks its vector kernels at run time: it holds AVX-512 code (the `gemm` crate's
# `x86-v4` micro-kernels, compiled into every `flex` build), yet trains on a CPU without AVX-512. The CPU without
# it is QEMU's user-mode emulation of a Haswell (AVX2 + FMA), which stops a process that executes any AVX-512
# instruction with SIGILL; a probe that forces one AVX-512 instruction shows that it does (when rustc is present).
#
#   scripts/check_dispatch.sh GENZOO        (needs `qemu-x86_64`: apt-get install qemu-user; `objdump`: binutils)
#
# Under emulation, each preset runs one training step of `genzoo bench` (its batch, mini-MNIST; a minute or two
# each): the PixelCNN (masked-tap products), the conv autoencoder (phase engine), DCGAN (transposed convolutions,
# BatchNorm) and the MLP GAN (linear layers), Adam in all.
set -uo pipefail
. "$(dirname "$0")/common.sh"
usage_unless 1 "$#"
genzoo_binary "$1"
command -v qemu-x86_64 > /dev/null || { echo "qemu-x86_64 not found: apt-get install qemu-user" >&2; exit 2; }
cpu=Haswell
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

zmm=$(objdump -d --no-show-raw-insn "$genzoo" 2> /dev/null | grep -c zmm)
echo "instructions on zmm registers (AVX-512) in the binary: $zmm"

if command -v rustc > /dev/null; then
  cat > "$work/probe.rs" << 'EOF'
use std::arch::x86_64::*;
fn main() {
    let x: Vec<f32> = (0..16).map(|i| std::hint::black_box(i as f32)).collect();
    let mut y = vec![0.0f32; 16];
    unsafe { force(&x, &mut y) };
    println!("{}", y.iter().sum::<f32>());
}
#[target_feature(enable = "avx512f")]
unsafe fn force(x: &[f32], y: &mut [f32]) {
    unsafe {
        let a = _mm512_loadu_ps(x.as_ptr());
        _mm512_storeu_ps(y.as_mut_ptr(), std::hint::black_box(_mm512_fmadd_ps(a, a, a)));
    }
}
EOF
  rustc -O -o "$work/probe" "$work/probe.rs"
  # The shell's own report of the expected SIGILL goes to /dev/null with the probe's output.
  status=$( { qemu-x86_64 -cpu "$cpu" "$work/probe" > /dev/null 2>&1; echo $?; } 2> /dev/null )
  if [ "$status" = 132 ]; then
    echo "probe: one AVX-512 instruction under qemu -cpu $cpu stops with SIGILL, as it must"
  else
    echo "probe: exit status $status under qemu -cpu $cpu, expected 132 (SIGILL): this check proves nothing here"
    fail=1
  fi
fi

for model in pixelcnn autoencoder dcgan gan; do
  t0=$(date +%s)
  qemu-x86_64 -cpu "$cpu" "$genzoo" bench --child --only "$model" --warmup 0 --repeats 1 --steps 1 --samples 0 \
    > "$work/$model.log" 2>&1
  status=$?
  if [ "$status" = 0 ] && grep -q train_images_per_sec "$work/$model.log"; then
    echo "$model: a training step under qemu -cpu $cpu ($(( $(date +%s) - t0 )) s)"
  else
    echo "$model: exit status $status under qemu -cpu $cpu (132 = SIGILL: an AVX-512 kernel ran); last lines:"
    tail -3 "$work/$model.log"
    fail=1
  fi
done
[ "$fail" = 0 ] && echo "dispatch: ok" || echo "dispatch: FAILED"
exit "$fail"
