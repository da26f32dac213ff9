#!/usr/bin/env bash
# The GPU evidence run for the CUDA backend, in two halves:
#
#   bash benches/gpu_evidence.sh pack     # here (a machine with the Rust toolchain): builds the
#                                         # release binaries and copies them, with MNIST, into
#                                         # gpu-run/ (git-ignored)
#   bash gpu-run/gpu_evidence.sh run      # on the GPU machine (CUDA driver + NVRTC, no Rust):
#                                         # parity tests, training epochs, benches, PyTorch eager
#
# `run` writes everything to $OUT (default gpu-run/out): parity.txt, compile.txt, epochs-*.txt,
# bench-*.txt, pytorch.txt. BENCHMARKS.md's CUDA section is filled from these files.
set -euo pipefail
mode="${1:-}"
here="$(cd "$(dirname "$0")" && pwd)"

if [ "$mode" = pack ]; then
    cd "$here/.."
    dest=gpu-run
    rm -rf "$dest" && mkdir -p "$dest/bin" "$dest/mnist"
    cargo build --release --locked --bin shortcut --example epoch_timing --example consistency_cost
    # test and bench binaries: cargo prints their paths as JSON
    for what in "test --release --test device_parity --test cuda_kernels_compile" "bench --bench ops --bench train_step"; do
        cargo $what --locked --no-run --message-format=json 2>/dev/null |
            python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["kind"] in (["test"],["bench"]):
        print(m["target"]["name"], m["executable"])' |
            while read -r name exe; do cp "$exe" "$dest/bin/$name"; done
    done
    cp target/release/shortcut target/release/examples/epoch_timing target/release/examples/consistency_cost "$dest/bin/"
    # release builds keep debug info (profile.release debug = 1): strip, then gzip (`run`
    # unpacks them), to fit the device tool's 64 MiB carry with MNIST beside them
    for f in "$dest"/bin/*; do strip "$f" && gzip -9 "$f"; done
    cp ../shared/data/mnist/* "$dest/mnist/"
    cp benches/pytorch_eager.py benches/gpu_evidence.sh "$dest/"
    ls -la "$dest/bin"
    du -sh "$dest"
    bytes="$(du -sb "$dest" | cut -f1)"
    if [ "$bytes" -gt $((64 * 1024 * 1024)) ]; then
        echo "gpu-run is $bytes bytes: more than the 64 MiB the device tool carries" >&2
        exit 1
    fi
    exit 0
fi

if [ "$mode" != run ]; then
    echo "usage: gpu_evidence.sh pack|run" >&2
    exit 2
fi

cd "$here"
for f in bin/*.gz; do
    [ -e "$f" ] || continue
    gunzip -f "$f" && chmod +x "${f%.gz}"
done
OUT="${OUT:-$here/out}"
mkdir -p "$OUT"
export SHORTCUT_REQUIRE_CUDA=1 SHORTCUT_REQUIRE_NVRTC=1 SHORTCUT_DATA="$here/mnist"
export SHORTCUT_CUDA_CACHE="$OUT/cubin-cache"
# NVRTC: the toolkit's, else PyTorch's wheel
if [ -z "${SHORTCUT_NVRTC:-}" ] && ! ldconfig -p | grep -q libnvrtc.so; then
    SHORTCUT_NVRTC="$(python3 -c 'import glob,site;h=[p for r in site.getsitepackages() for p in glob.glob(r+"/nvidia/**/libnvrtc.so*",recursive=True) if "builtins" not in p];print(sorted(h)[-1] if h else "")')"
    export SHORTCUT_NVRTC
fi
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
bin/shortcut devices --device cuda 2>&1 | tee "$OUT/devices.txt"
bin/cuda_kernels_compile --test-threads 1 2>&1 | tee "$OUT/compile.txt"
bin/device_parity cuda --test-threads 1 2>&1 | tee "$OUT/parity.txt"
bin/epoch_timing --device cuda --model both --epochs 3 2>&1 | tee "$OUT/epochs-cuda.txt"
bin/epoch_timing --device cuda --model shape --epochs 20 2>&1 | tee "$OUT/epochs-shape20-cuda.txt"
bin/shortcut train lazy --device cuda --epochs 10 --out "$OUT/lazy-cuda" 2>&1 | tee "$OUT/train-lazy-cuda.txt"
bin/shortcut train lazy --method consistency --device cuda --out "$OUT/lazy-consistency-cuda" 2>&1 | tee "$OUT/train-lazy-consistency-cuda.txt"
bin/consistency_cost --device cuda 2>&1 | tee "$OUT/consistency-cost-cuda.txt"
SHORTCUT_BENCH_WGPU=0 bin/ops --bench --noplot cuda 2>&1 | tee "$OUT/bench-ops.txt"
SHORTCUT_BENCH_WGPU=0 bin/train_step --bench --noplot cuda 2>&1 | tee "$OUT/bench-train-step.txt"
python3 pytorch_eager.py --epochs 3 2>&1 | tee "$OUT/pytorch.txt" || true
echo "done: $OUT"
