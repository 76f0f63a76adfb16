"""The data source a run uses is reported once, though a run loads its data twice (training and
the evaluation's reference statistics)."""
import logging

from gan_tf import data as gan_data


def test_the_source_is_reported_once_per_process(tmp_path, caplog, tiny_mnist):
    tiny_mnist(train=12, test=2, directory=tmp_path)  # a directory of its own: not read before
    with caplog.at_level(logging.DEBUG, logger="absl"):  # absl logs through its own logger
        for _ in range(2):
            gan_data.load("mnist", split="train", data_dir=str(tmp_path))
    reports = [r for r in caplog.records if "using source 'files'" in r.getMessage()]
    assert [r.levelno for r in reports] == [logging.INFO, logging.DEBUG]
