#!/usr/bin/env python3
"""OPTIONAL comparator: LazyCNN and ShapeCNN training epochs in PyTorch eager mode on one GPU.

The project never needs PyTorch; this script only gives BENCHMARKS.md the number our CUDA
backend has to beat ("faster than PyTorch eager on the same GPU"). It times what
`shortcut train lazy|shape --device cuda` times per epoch: 60,000 images in batches of 64,
forward, cross-entropy, backward and an Adam step (lr 1e-3), with the data already on the GPU
(we colorize on the GPU, so neither side pays for host transfers) and no host synchronization
inside the epoch (the loss is summed on the GPU and read once, as our training loop does).

    python3 benches/pytorch_eager.py [--epochs 3] [--device cuda] [--samples 60000]

Prints one JSON line per model: the seconds of every timed epoch and their median.
"""
import argparse, json, statistics, time

import torch
import torch.nn as nn


def lazy_cnn():
    # src/models/lazy_cnn.rs (the seed report's LazyCNN)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d((2, 2)), nn.Flatten(),
        nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def shape_cnn():
    # src/models/shape_cnn.rs (SPEC Task 4.3)
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 128, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def epoch(model, opt, x, y, batch):
    loss_fn = nn.CrossEntropyLoss()
    total = torch.zeros((), device=x.device)
    perm = torch.randperm(x.shape[0], device=x.device)
    for i in range(0, x.shape[0], batch):
        idx = perm[i:i + batch]
        out = model(x[idx])
        loss = loss_fn(out, y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += loss.detach() * idx.numel()
    return total.item()  # the one host synchronization of the epoch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--samples", type=int, default=60000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    x = torch.rand(a.samples, 3, 28, 28, device=dev)
    y = torch.randint(0, 10, (a.samples,), device=dev)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else a.device
    for label, make in (("LazyCNN", lazy_cnn), ("ShapeCNN", shape_cnn)):
        model = make().to(dev)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        epoch(model, opt, x[: a.batch * 20], y[: a.batch * 20], a.batch)  # warm-up (cuDNN autotune, caches)
        times = []
        for _ in range(a.epochs):
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            epoch(model, opt, x, y, a.batch)
            times.append(time.perf_counter() - t)
        print(json.dumps({"model": label, "device": name, "torch": torch.__version__,
                          "samples": a.samples, "batch": a.batch,
                          "epoch_seconds": [round(s, 3) for s in times],
                          "median_seconds": round(statistics.median(times), 3)}))


if __name__ == "__main__":
    main()
