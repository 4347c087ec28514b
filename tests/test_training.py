"""The training loop's parts against their definitions: schedules, TTA, label smoothing, augmentation, callbacks."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from twistfm.models import create_model
from twistfm.train import Splits, TrainConfig, every, fit, predict
from twistfm.training.steps import augment, epoch_seed, erase, lr_at

TOTAL = 400


def _cosine(lr, t):
    return lr * 0.5 * (1 + math.cos(math.pi * t))


@pytest.mark.parametrize("step", [0, 1, 50, 99, 100, 101, 200, 300, 399])
def test_each_schedule_follows_its_formula(step):
    t = step / TOTAL
    assert lr_at(TrainConfig(model="m", lr=0.1), step, TOTAL) == 0.1
    assert lr_at(TrainConfig(model="m", lr=0.1, schedule="cosine"), step, TOTAL) == pytest.approx(_cosine(0.1, t))
    # one-cycle: linear from 4 % of the peak over the first quarter, then cosine from the peak to ~0
    expected = 0.1 * (0.04 + 0.96 * t / 0.25) if t < 0.25 else _cosine(0.1, (t - 0.25) / 0.75) + 1e-6
    assert lr_at(TrainConfig(model="m", lr=0.1, schedule="onecycle"), step, TOTAL) == pytest.approx(expected)


def test_schedule_landmarks():
    onecycle = TrainConfig(model="m", lr=0.2, schedule="onecycle")
    assert lr_at(onecycle, 0, TOTAL) == pytest.approx(0.008)
    assert lr_at(onecycle, 100, TOTAL) == pytest.approx(0.2 + 1e-6)  # the peak, a quarter of the way
    assert lr_at(onecycle, TOTAL, TOTAL) == pytest.approx(1e-6)
    cosine = TrainConfig(model="m", lr=0.2, schedule="cosine")
    assert lr_at(cosine, 200, TOTAL) == pytest.approx(0.1) and lr_at(cosine, TOTAL, TOTAL) == pytest.approx(0.0)


def test_the_loop_sets_the_scheduled_rate_at_every_step(tiny_dataset):
    config = TrainConfig(model="cm1", epochs=2, batch_size=100, schedule="onecycle", lr=0.01, precision="fp32")
    result = fit(config, tiny_dataset, log=None)
    steps = 5  # 480 fit images in batches of 100
    assert [row["lr"] for row in result.history] == [lr_at(config, e * steps - 1, 2 * steps) for e in (1, 2)]


def _model():
    torch.manual_seed(0)
    return create_model("cm1", 3)


def test_flip_tta_averages_the_image_and_its_mirror():
    x = torch.rand(12, 1, 28, 28)
    x[:, :, :, :14] = 0  # every image asymmetric: its mirror is another image
    model = _model()
    plain, mirrored = predict(model, x), predict(model, x.flip(3))
    with_tta = predict(model, x, tta=True, batch_size=5)
    assert torch.allclose(with_tta, (plain + mirrored) / 2, atol=1e-6)
    assert not torch.allclose(with_tta, plain, atol=1e-4)
    symmetric = torch.rand(4, 1, 28, 28)
    symmetric = (symmetric + symmetric.flip(3)) / 2
    assert torch.allclose(predict(model, symmetric, tta=True), predict(model, symmetric), atol=1e-5)


def test_the_training_loss_is_the_label_smoothed_cross_entropy(tiny_dataset):
    """The first step's loss, recomputed from the same initial weights and batch with the smoothing formula."""
    eps, config = 0.2, TrainConfig(model="cm1", epochs=1, batch_size=64, label_smoothing=0.2, precision="fp32", seed=5)
    seen = []
    fit(config, tiny_dataset, log=None, callbacks=[lambda e: seen.append(e.loss) if e.step == 1 and e.kind == "step"
                                                   else None])
    splits = Splits.from_dataset(tiny_dataset, config.val_split)
    torch.manual_seed(config.seed)
    model = create_model("cm1", tiny_dataset.num_labels, tiny_dataset.input_shape).train()
    order = torch.randperm(len(splits.x_fit), generator=torch.Generator().manual_seed(epoch_seed(config.seed, 0) + 1))
    idx = order[:64]
    with torch.no_grad():
        logits = model(splits.x_fit[idx])
    y, k = splits.y_fit[idx], logits.shape[1]
    logp = F.log_softmax(logits, 1)
    smoothed = -((1 - eps) * logp.gather(1, y[:, None]).squeeze(1) + eps / k * logp.sum(1)).mean()
    assert seen[0] == pytest.approx(smoothed.item(), rel=1e-4)
    assert seen[0] != pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-3)


def _shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``image`` (C x H x W) moved by (dy, dx) pixels, zeros coming in."""
    padded = F.pad(image, (2, 2, 2, 2))
    h, w = image.shape[1:]
    return padded[:, 2 - dy:2 - dy + h, 2 - dx:2 - dx + w]


@pytest.mark.parametrize("channels", [1, 3])
def test_augment_flips_and_shifts_each_image_within_the_pad(channels):
    x = torch.rand(64, channels, 12, 10) + 0.1  # no zero pixel: every shift is visible
    out = augment(x, torch.Generator().manual_seed(3))
    assert out.shape == x.shape
    moves = set()
    for i in range(len(x)):  # image i becomes a move of image i itself: the batch order (the labels') is kept
        found = [(flip, dy, dx) for flip in (False, True) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(out[i], _shifted(x[i].flip(2) if flip else x[i], dy, dx))]
        assert len(found) == 1, i
        moves.add(found[0])
    assert {m[0] for m in moves} == {False, True} and {m[1] for m in moves} == {-2, -1, 0, 1, 2}
    assert torch.equal(out, augment(x, torch.Generator().manual_seed(3)))
    assert not torch.equal(out, augment(x, torch.Generator().manual_seed(4)))


def test_augment_in_training_leaves_the_labels_alone(tiny_dataset, monkeypatch):
    """The loop augments the images only: the labels it steps on are the fit labels of the batch, in order."""
    import twistfm.training.loop as loop

    batches = []
    original = loop.Loop._step

    def spy(self, xb, yb, gen):
        batches.append(yb.clone())
        return original(self, xb, yb, gen)

    monkeypatch.setattr(loop.Loop, "_step", spy)
    config = TrainConfig(model="cm1", epochs=1, batch_size=100, augment=True, precision="fp32")
    fit(config, tiny_dataset, log=None)
    splits = Splits.from_dataset(tiny_dataset, config.val_split)
    order = torch.randperm(len(splits.x_fit), generator=torch.Generator().manual_seed(epoch_seed(0, 0) + 1))
    assert torch.equal(torch.cat(batches), splits.y_fit[order])


def test_random_erasing_zeroes_one_rectangle_in_every_channel_of_a_chosen_share():
    x = torch.rand(400, 3, 20, 20) + 0.1
    out = erase(x, torch.Generator().manual_seed(1), 0.5)
    zero = out == 0
    assert (zero.all(1) == zero.any(1)).all()  # the same rectangle in every channel
    erased = zero[:, 0]
    chosen = erased.flatten(1).any(1)
    assert 160 < chosen.sum() < 240  # about half
    for image in erased[chosen]:
        rows, cols = torch.nonzero(image.any(1)).flatten(), torch.nonzero(image.any(0)).flatten()
        assert image.sum() == len(rows) * len(cols) and rows.diff().eq(1).all() and cols.diff().eq(1).all()
    assert torch.equal(out[~zero], x[~zero])  # nothing else changed
    assert torch.equal(out, erase(x, torch.Generator().manual_seed(1), 0.5))
    area = erased[chosen].flatten(1).sum(1).float() / 400
    assert area.min() >= 0.005 and area.max() <= 0.35  # 2-25 % of the image, as rounded to whole pixels
    assert area.mean() == pytest.approx(0.135, abs=0.03)


def _host_waits(monkeypatch, dataset, batch_size, callback):
    """How many values training reads back from tensors (each a wait for the computation)."""
    count = [0]
    item = torch.Tensor.item

    def counted(self):
        count[0] += 1
        return item(self)

    monkeypatch.setattr(torch.Tensor, "item", counted)
    fit(TrainConfig(model="cm1", epochs=1, batch_size=batch_size, precision="fp32"), dataset, log=None,
        callbacks=[callback])
    monkeypatch.setattr(torch.Tensor, "item", item)
    return count[0]


def test_an_epoch_callback_makes_the_steps_wait_for_nothing(monkeypatch, tiny_dataset):
    epochs_only = every("epoch", lambda event: None)
    few, many = (_host_waits(monkeypatch, tiny_dataset, b, epochs_only) for b in (240, 48))  # 2 and 10 steps
    assert few == many
    plain_few, plain_many = (_host_waits(monkeypatch, tiny_dataset, b, lambda event: None) for b in (240, 48))
    assert plain_many - plain_few == 8  # a step callback reads every step's loss
    every_five = _host_waits(monkeypatch, tiny_dataset, 48, every(5, lambda event: None))
    assert every_five - many == 2

