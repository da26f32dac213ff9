#!/usr/bin/env python3
"""Our CPU speed and PyTorch's on the same machine, measured in alternation; prints the ratios.

    python3 benches/side_by_side.py [--rounds 3] [--reps 20] [--threads N]
                                    [--groups lazy,shape,conv] [--malloc tuned|stock]
                                    [--lazy-epoch-samples 60000] [--shape-epoch-samples 6400]

Workloads (batch 64; random weights and images in [0, 1]; the same definitions on both sides —
ours in examples/speed.rs, PyTorch's below):
  lazy|shape /step     one training step (forward, cross-entropy, backward, Adam), median, ms
  lazy|shape /epoch    one epoch over N images in memory (shuffled, gathered, loss summed on
                       the device), s — LazyCNN 60,000 images (a real epoch), ShapeCNN 6,400
                       (100 steps; its real epoch is ≈ 9.4× that)
  lazy|shape /infer    evaluation-mode forward passes without a tape, batches of 128, images/s
  conv/<layer>/fwd     ShapeCNN's five 3x3 convolutions alone, forward, median, ms
  conv/<layer>/fwd+bwd forward, then the input and weight gradients, median, ms

Each round runs every group once in each engine (a fresh process each time, ours first in even
rounds and PyTorch first in odd ones, so that neither always runs on a cooler or hotter machine);
the table shows each side's median over rounds and the speed-up = PyTorch's time / ours (for
images/s: ours / PyTorch's): above 1 we are faster. Both engines get the same thread count
(--threads, default all cores: RAYON_NUM_THREADS and torch.set_num_threads).

Memory: a fresh PyTorch process gets a big tensor's memory from glibc's malloc as new pages
(mmap) and hands it back on free, so every large temporary costs page faults — ShapeCNN's 32→64
forward takes 11 ms that way and 4.4 ms without them. By default both engines run with glibc's
mmap and trim thresholds raised (GLIBC_TUNABLES, --malloc tuned), which is what a PyTorch user
tuning for speed does (or jemalloc/tcmalloc); --malloc stock measures the defaults. Our engine
keeps freed buffers in its own pool, so the setting hardly matters to it.

Without torch (`pip install torch`) it prints our numbers alone. Our binary is built first with
`cargo build --release --example speed` (skip with --no-build).
"""
import argparse, json, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OURS = os.path.join(ROOT, "target", "release", "examples", "speed")
BATCH, INFER_BATCH = 64, 128  # 128: the study's evaluation batch (EVAL_BATCH)
CONV_LAYERS = [("conv1_3x32_28", 3, 32, 28), ("conv2_32x64_28", 32, 64, 28),
               ("conv3_64x64_14", 64, 64, 14), ("conv4_64x128_14", 64, 128, 14),
               ("conv5_128x128_7", 128, 128, 7)]


# ---------------------------------------------------------------- the PyTorch side (a worker)

def torch_models():
    # the same definitions as benches/pytorch_eager.py (src/models/lazy_cnn.rs, shape_cnn.rs)
    sys.path.insert(0, HERE)
    from pytorch_eager import lazy_cnn, shape_cnn
    return {"lazy": lazy_cnn, "shape": shape_cnn}


def timed(reps, f):
    f(); f()
    out = []
    for _ in range(reps):
        t = time.perf_counter(); f(); out.append(time.perf_counter() - t)
    return out


def emit(workload, value, unit):
    print(json.dumps({"workload": workload, "value": value, "unit": unit}), flush=True)


def torch_worker(group, reps, epoch_samples):
    import torch, torch.nn as nn
    torch.manual_seed(0)
    if group == "conv":
        return torch_conv(torch, reps)
    model = torch_models()[group]()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    n = max(epoch_samples, BATCH)
    x = torch.rand(n, 3, 28, 28)
    y = torch.arange(n) % 10

    def step(idx, total=None):
        out = model(x[idx])
        loss = loss_fn(out, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if total is not None:
            total += loss.detach() * idx.numel()

    model.train()
    first = torch.arange(BATCH)
    emit(f"{group}/step", 1e3 * statistics.median(timed(reps, lambda: step(first))), "ms")

    def epoch():
        total = torch.zeros(())
        perm = torch.randperm(n)
        for i in range(0, n, BATCH):
            step(perm[i:i + BATCH], total)
        total.item()
    emit(f"{group}/epoch", statistics.median(timed(1, epoch)), "s")

    model.eval()
    images = min(n, 10_000)

    def infer():
        with torch.no_grad():
            for s in range(0, images, INFER_BATCH):
                model(x[s:s + INFER_BATCH])
    emit(f"{group}/infer", images / statistics.median(timed(3, infer)), "images/s")


def torch_conv(torch, reps):
    import torch.nn.functional as F
    for name, ci, co, hw in CONV_LAYERS:
        x = torch.rand(BATCH, ci, hw, hw)
        w = torch.rand(co, ci, 3, 3) * 0.2 - 0.1
        b = torch.rand(co) * 0.2 - 0.1
        g = torch.rand(BATCH, co, hw, hw) * 2 - 1
        with torch.no_grad():
            t = timed(reps, lambda: F.conv2d(x, w, b, padding=1))
        emit(f"conv/{name}/fwd", 1e3 * statistics.median(t), "ms")
        xg, wg, bg = (t.clone().requires_grad_() for t in (x, w, b))

        def both():
            F.conv2d(xg, wg, bg, padding=1).backward(g)
            for t in (xg, wg, bg):
                t.grad = None
        emit(f"conv/{name}/fwd+bwd", 1e3 * statistics.median(timed(reps, both)), "ms")


# ---------------------------------------------------------------- the driver

def run_group(engine, group, a, env):
    samples = {"lazy": a.lazy_epoch_samples, "shape": a.shape_epoch_samples, "conv": 0}[group]
    if engine == "ours":
        cmd = [OURS, "--group", group, "--reps", str(a.reps), "--epoch-samples", str(samples)]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", group,
               "--reps", str(a.reps), "--epoch-samples", str(samples)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"{engine} {group} failed (exit {p.returncode}):\n{p.stderr.strip()}")
    return [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]


def have_torch():
    try:
        import torch  # noqa: F401
        return True
    except ImportError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--groups", default="lazy,shape,conv")
    ap.add_argument("--lazy-epoch-samples", type=int, default=60000)
    ap.add_argument("--shape-epoch-samples", type=int, default=6400)
    ap.add_argument("--malloc", choices=["tuned", "stock"], default="tuned")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--json", help="also write every measurement to this file")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--epoch-samples", type=int, default=0, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        import torch
        torch.set_num_threads(int(os.environ.get("SIDE_BY_SIDE_THREADS", os.cpu_count())))
        return torch_worker(a.worker, a.reps, a.epoch_samples)

    groups = [g for g in a.groups.split(",") if g]
    bad = [g for g in groups if g not in ("lazy", "shape", "conv")]
    if bad or a.rounds < 1 or a.reps < 1:
        sys.exit(f"--groups takes lazy, shape, conv (not {bad}); --rounds and --reps at least 1")
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "speed"],
                       cwd=ROOT, check=True)
    engines = ["ours", "torch"] if have_torch() else ["ours"]
    if len(engines) == 1:
        print("torch is not importable: our numbers only (pip install torch for the ratios)")
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads), SIDE_BY_SIDE_THREADS=str(a.threads),
               OMP_NUM_THREADS=str(a.threads))
    if a.malloc == "tuned":
        big = 1 << 32  # bytes: no block is ever mmapped or trimmed
        env["GLIBC_TUNABLES"] = (f"glibc.malloc.mmap_threshold={big}:"
                                 f"glibc.malloc.trim_threshold={big}")
    results = {}  # (engine, workload) -> [values], units
    units = {}
    for r in range(a.rounds):
        for g in groups:
            for engine in (engines if r % 2 == 0 else engines[::-1]):
                for m in run_group(engine, g, a, env):
                    results.setdefault((engine, m["workload"]), []).append(m["value"])
                    units[m["workload"]] = m["unit"]
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)

    import platform
    torch_version = __import__("torch").__version__ if "torch" in engines else "-"
    print(f"\n{time.strftime('%Y-%m-%d')} · {platform.processor() or platform.machine()} · "
          f"{a.threads} threads · torch {torch_version} · malloc {a.malloc} · "
          f"median of {a.rounds} rounds")
    print(f"{'workload':28} {'unit':>9} {'ours':>10} {'PyTorch':>10} {'speed-up':>9}")
    for w, unit in units.items():
        ours = statistics.median(results[("ours", w)])
        line = f"{w:28} {unit:>9} {ours:10.3f}"
        if ("torch", w) in results:
            theirs = statistics.median(results[("torch", w)])
            ratio = ours / theirs if unit == "images/s" else theirs / ours
            line += f" {theirs:10.3f} {ratio:8.2f}×"
        print(line)
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"engine": e, "workload": w, "values": v, "unit": units[w]}
                       for (e, w), v in results.items()], f, indent=1)


if __name__ == "__main__":
    main()
