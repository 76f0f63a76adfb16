"""The data source a run uses is reported once, though a run loads its data twice (training and
the evaluation's reference statistics)."""
import logging

import numpy as np

from gan_tf import data as gan_data


def test_the_source_is_reported_once_per_process(tmp_path, caplog):
    images = np.zeros((12, 28, 28), np.uint8)
    np.savez(tmp_path / "mnist.npz", x_train=images, y_train=np.arange(12) % 10, x_test=images[:2],
             y_test=np.arange(2))
    with caplog.at_level(logging.DEBUG, logger="absl"):  # absl logs through its own logger
        for _ in range(2):
            gan_data.load("mnist", split="train", data_dir=str(tmp_path))
    reports = [r for r in caplog.records if "using source 'files'" in r.getMessage()]
    assert [r.levelno for r in reports] == [logging.INFO, logging.DEBUG]
