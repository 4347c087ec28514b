"""A classifier trained beside a contrastive objective: a discovery representation that keeps what the label merges.

The classifier's cross-entropy teaches the network to ignore every difference inside a
label. SimCLR's contrastive loss (Chen et al. 2020, NT-Xent) on two augmented views of each
image asks the same network to tell every image from every other, whatever its label, so
the kinds of image a label merges stay apart in its layers. :func:`train_contrastive` trains
tfm-small on the labels with both losses, from the images and the mystery labels only.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from twistfm.machine import choose_precision
from twistfm.models import create_model, to_input
from twistfm.training.steps import augment, autocast, erase

__all__ = ["train_contrastive", "nt_xent"]


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss: each view must pick its partner among the other 2N - 1 views."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = z @ z.T / temperature
    n = len(z1)
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, target)


def _trunk(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The flatten layer's output and the logits."""
    for name, layer in model.named_children():
        x = layer(x)
        if name == "flatten":
            features = x
    return features, x


def train_contrastive(x_train: np.ndarray, y_train: np.ndarray, num_labels: int, *, model: str = "tfm-small",
                      epochs: int = 8, batch: int = 128, lr: float = 0.1, weight: float = 1.0,
                      temperature: float = 0.2, seed: int = 0, log=print) -> nn.Module:
    """tfm-small trained on ``y_train`` with cross-entropy on two views plus ``weight`` times NT-Xent between them.

    The recipe is close to the quick one but not the same: SGD with Nesterov momentum and
    torch's ``OneCycleLR`` (which also cycles the momentum), label smoothing 0.1, every
    training image (nothing held out), and both views shifted by up to 3 pixels and randomly
    erased for the cross-entropy as well as for the contrastive loss. A two-layer projection
    head on the flatten layer (the model must have one) carries the contrastive loss and is
    dropped afterwards. ``weight=0`` trains the same recipe without the contrastive loss.
    """
    torch.manual_seed(seed)
    net = create_model(model, num_labels)
    width = net.output[-1].in_features
    head = nn.Sequential(nn.Linear(width, 2 * width), nn.ReLU(inplace=True), nn.Linear(2 * width, width))
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps = epochs * ((len(x_train) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    precision, _ = choose_precision("auto", torch.device("cpu"))
    x, y = to_input(x_train), torch.from_numpy(np.asarray(y_train, dtype=np.int64))
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        start, totals = time.perf_counter(), np.zeros(2)
        net.train()
        head.train()
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            if len(idx) < 2:
                continue
            xb, yb = x[idx], y[idx]
            views = torch.cat([erase(augment(xb, gen, 3), gen, 0.5), erase(augment(xb, gen, 3), gen, 0.5)])
            with autocast(torch.device("cpu"), precision):
                features, logits = _trunk(net, views.contiguous(memory_format=torch.channels_last))
                z = head(features)
            ce = F.cross_entropy(logits.float(), torch.cat([yb, yb]), label_smoothing=0.1)
            con = nt_xent(z[:len(idx)], z[len(idx):], temperature)
            loss = ce + weight * con
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            totals += [float(ce.detach()) * len(idx), float(con.detach()) * len(idx)]
        if log:
            log(f"contrastive epoch {epoch + 1}/{epochs}: cross-entropy {totals[0] / len(x):.4f}, "
                f"NT-Xent {totals[1] / len(x):.4f}, {time.perf_counter() - start:.1f} s")
    return net.eval()
