"""An images-only convolutional autoencoder: a discovery representation that never sees a label.

N2D (McConville et al., ``rymc/n2d``) clusters an autoencoder's code; the code keeps whatever
tells images apart, including the differences a label merges. :func:`train_autoencoder`
trains one on the training images of an image set (no labels, no classes) and
:func:`autoencoder_code` encodes other images with it.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

__all__ = ["ConvAutoencoder", "train_autoencoder", "autoencoder_code"]


class ConvAutoencoder(nn.Module):
    """28 x 28 grey -> ``code`` numbers -> 28 x 28 grey (two strided convolutions each way)."""

    def __init__(self, code: int = 32, width: int = 32):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(2 * width * 49, code))
        self.decoder = nn.Sequential(
            nn.Linear(code, 2 * width * 49), nn.ReLU(), nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def _tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32) / 255.0)[:, None]


def train_autoencoder(images: np.ndarray, *, code: int = 32, width: int = 32, epochs: int = 8, batch: int = 256, lr: float = 2e-3,
                      seed: int = 0, log=print) -> ConvAutoencoder:
    """An autoencoder trained to rebuild ``images`` (uint8, shape (N, 28, 28)); binary cross-entropy, Adam."""
    torch.manual_seed(seed)
    model = ConvAutoencoder(code, width)
    x = _tensor(images)
    steps = max(1, epochs * ((len(x) + batch - 1) // batch))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        start, total = time.perf_counter(), 0.0
        model.train()
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            xb = x[idx]
            loss = loss_fn(model(xb), xb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log:
            log(f"autoencoder epoch {epoch + 1}/{epochs}: loss {total / len(x):.4f}, {time.perf_counter() - start:.1f} s")
    return model.eval()


@torch.no_grad()
def autoencoder_code(model: ConvAutoencoder, images: np.ndarray, batch: int = 512) -> np.ndarray:
    """The code of each image, shape (N, code), float32."""
    x = _tensor(images)
    return torch.cat([model.encoder(x[i:i + batch]) for i in range(0, len(x), batch)]).numpy()
