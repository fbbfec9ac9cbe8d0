"""Exports torchvision models to ONNX as a user would bring them to morphtrain's model.onnx, with
what the import test compares against: PyTorch's eval logits on a batch of images and its
parameter count.

Random weights stand in for trained ones; every batch norm is moved away from its initial state
(scale, shift and running statistics), so a wrongly imported normalisation changes the logits.
The export keeps the batch norms (training=TrainingMode.PRESERVE on an eval-mode model: a plain
eval export folds them into the convolutions).

usage: torch_onnx_models.py OUT_DIR NAME[:SIZE] ...
  writes OUT_DIR/NAME.onnx and OUT_DIR/NAME.check.safetensors with "images" [2, 3, SIZE, SIZE],
  "logits" [2, 10] and "parameters" [1] (int64). SIZE defaults to 64."""
import os
import sys
import warnings

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_pretrained import save_file, trained_looking  # noqa: E402

CLASSES = 10


def export(out_dir, name, size):
    torch.manual_seed(0)
    model = trained_looking(getattr(torchvision.models, name)(num_classes=CLASSES))
    images = torch.randn(2, 3, size, size)
    with torch.no_grad():
        logits = model(images)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, images, os.path.join(out_dir, name + ".onnx"),
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True,
                          input_names=["images"], output_names=["logits"])
    parameters = sum(p.numel() for p in model.parameters())
    save_file({"images": images, "logits": logits, "parameters": torch.tensor([parameters])},
              os.path.join(out_dir, name + ".check.safetensors"))


def main():
    out_dir = sys.argv[1]
    for arg in sys.argv[2:]:
        name, _, size = arg.partition(":")
        export(out_dir, name, int(size or 64))


if __name__ == "__main__":
    main()
