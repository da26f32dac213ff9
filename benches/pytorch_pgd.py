#!/usr/bin/env python3
"""OPTIONAL comparator: targeted L∞ PGD-40 (α = ε/10) on 1,000 images, PyTorch on the same machine.

The same workload as `cargo run --release --example pgd_speed`: LazyCNN and ShapeCNN with
random weights (speed does not depend on them), 1,000 random 3×28×28 images in [0, 1], batches
of 250, the parameters frozen (requires_grad_(False)) so backward computes the input gradient
only, eval mode; each step: forward, cross-entropy summed over the batch toward the target,
backward, x − α·sign(g), projection onto the ε-ball, clamp to [0, 1].

    python3 benches/pytorch_pgd.py [--threads 2] [--images 1000] [--repeats 3]

Prints one JSON line per model with the seconds of each repeat and images per second (median).
"""
import argparse, json, statistics, time

import torch
import torch.nn.functional as F

# The two models, defined once for both comparators (this script's folder is on sys.path).
from pytorch_eager import lazy_cnn, shape_cnn


def pgd(model, x, target, eps, steps):
    alpha = eps / 10
    lo, hi = x - eps, x + eps
    adv = x.clone()
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = F.cross_entropy(model(adv), target, reduction="sum")
        (g,) = torch.autograd.grad(loss, adv)
        with torch.no_grad():
            adv = torch.minimum(torch.maximum(adv - alpha * g.sign(), lo), hi).clamp(0, 1)
    return adv


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--models", default="lazy,shape")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.rand(a.images, 3, 28, 28)
    t = torch.full((a.images,), 3, dtype=torch.long)
    for label, make in (("LazyCNN", lazy_cnn), ("ShapeCNN", shape_cnn)):
        if label[:-3].lower() not in a.models:
            continue
        model = make().eval()
        model.requires_grad_(False)
        pgd(model, x[: a.batch], t[: a.batch], 0.05, 2)  # warm-up
        times = []
        for _ in range(a.repeats):
            s = time.perf_counter()
            for i in range(0, a.images, a.batch):
                pgd(model, x[i:i + a.batch], t[i:i + a.batch], 0.05, 40)
            times.append(time.perf_counter() - s)
        med = statistics.median(times)
        print(json.dumps({"model": label, "torch": torch.__version__, "threads": a.threads,
                          "images": a.images, "seconds": [round(v, 3) for v in times],
                          "images_per_second": round(a.images / med, 1)}))


if __name__ == "__main__":
    main()
