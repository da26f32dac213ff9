#!/usr/bin/env python3
"""OPTIONAL comparator: SPEC Task 6's SAE training in PyTorch on the same machine.

The same workload as `cargo run --release --example sae_speed`: an SAE Linear(64→256) + ReLU,
Linear(256→64), loss MSE + 5e-4 · mean|h|, Adam 1e-3, batch 128, on 60,000 vectors ReLU(N(0, 1)).

    python3 benches/pytorch_sae.py [--threads 2] [--epochs 10] [--loader]

By default each epoch draws a random permutation and indexes the tensor (the fastest plain
PyTorch loop); --loader iterates a DataLoader over a TensorDataset with shuffle=True, as the
report's code does. Prints one JSON line: the seconds and the seconds per epoch.
"""
import argparse, json, time

import torch
import torch.nn as nn


class SAE(nn.Module):
    def __init__(self, d=64, m=256):
        super().__init__()
        self.encoder = nn.Linear(d, m)
        self.decoder = nn.Linear(m, d)

    def forward(self, x):
        h = torch.relu(self.encoder(x))
        return self.decoder(h), h


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--samples", type=int, default=60000)
    p.add_argument("--loader", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    x = torch.relu(torch.randn(a.samples, 64))
    sae = SAE()
    opt = torch.optim.Adam(sae.parameters(), lr=1e-3)
    loader = None
    if a.loader:
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x), batch_size=128, shuffle=True
        )
    start = time.perf_counter()
    for _ in range(a.epochs):
        batches = (
            (b for (b,) in loader)
            if loader is not None
            else (x[i] for i in torch.randperm(a.samples).split(128))
        )
        for xb in batches:
            x_hat, h = sae(xb)
            loss = ((x_hat - xb) ** 2).mean() + 5e-4 * h.abs().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    secs = time.perf_counter() - start
    print(json.dumps({
        "engine": "pytorch " + torch.__version__ + (" DataLoader" if a.loader else ""),
        "epochs": a.epochs,
        "samples": a.samples,
        "seconds": round(secs, 3),
        "seconds_per_epoch": round(secs / a.epochs, 4),
        "final_loss": float(loss),
    }))


if __name__ == "__main__":
    main()
