"""Writes a folder of N synthetic JPEG photos (W x H, 10 classes, smooth colour fields with noise,
quality 90) for bench/data_pipeline.sh: FOLDER/train/class<k>/<i>.jpg.

usage: make_jpeg_folder.py FOLDER N [--width 500] [--height 375]"""
import argparse
import os

import numpy as np
from PIL import Image


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("n", type=int)
    p.add_argument("--width", type=int, default=500)
    p.add_argument("--height", type=int, default=375)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:a.height, 0:a.width].astype(np.float32)
    for i in range(a.n):
        cls = os.path.join(a.folder, "train", "class%d" % (i % 10))
        os.makedirs(cls, exist_ok=True)
        f = rng.uniform(0.005, 0.05, size=3)
        img = np.stack([127 + 100 * np.sin(f[c] * (xx + 1.3 * yy) + i) for c in range(3)], axis=-1)
        img += rng.normal(0, 12, size=img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(os.path.join(cls, "%06d.jpg" % i), quality=90)


if __name__ == "__main__":
    main()
