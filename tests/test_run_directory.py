"""Hostile use of a run directory (issue 15): damaged checkpoints and records, lost artefacts,
failed first attempts, deleted config.json, hostile headers, symlinks, atomic writes."""
import glob
import importlib
import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest

from gan_tf import atomic
from gan_tf.checkpoints import CheckpointManager
from gan_tf.experiments.config import ExperimentConfig
from gan_tf.experiments.runner import restore_gan, run


@pytest.fixture(scope="module")
def data_dir(tiny_mnist):
    return tiny_mnist(train=32, test=8, seed=2)


def _tiny(data_dir, out_dir, **changes):
    config = ExperimentConfig(
        dataset="mnist", out_dir=str(out_dir), epochs=1, steps_per_epoch=2, batch_size=8,
        latent_dim=8, width=4, sample_grid=4, data_dir=data_dir, verbose=0, seed=4,
    )
    return config.replace(**changes)


@pytest.fixture(scope="module")
def finished(data_dir, tmp_path_factory):
    """A finished 2-epoch run, copied fresh by each test that damages it."""
    out = tmp_path_factory.mktemp("finished") / "run"
    run(_tiny(data_dir, out, epochs=2))
    return out


@pytest.fixture
def damaged(finished, tmp_path):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(finished, out)
    return out


def _truncate(path):
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _flip_a_byte(path):
    """Flips one byte in the data of the biggest member (what a bad sector does)."""
    with zipfile.ZipFile(path) as archive:
        info = max(archive.infolist(), key=lambda i: i.file_size)
    with open(path, "r+b") as f:
        f.seek(info.header_offset + 30 + len(info.filename) + info.file_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))


# ------------------------------------------------------------ 1. damaged checkpoints
@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte])
def test_a_damaged_newest_checkpoint_falls_back_in_run_generate_and_evaluate(data_dir, damaged, damage):
    newest = damaged / "checkpoints" / "ckpt-000002.npz"
    damage(newest)
    gan, _ = restore_gan(str(damaged))  # what generate and evaluate call
    assert int(gan.g_optimizer.iterations.numpy()) == 2  # epoch 1's checkpoint
    result = run(_tiny(data_dir, damaged, epochs=2))
    assert result["start_epoch"] == 1
    names = sorted(os.listdir(damaged / "checkpoints"))
    assert names == ["ckpt-000001.npz", "ckpt-000002.npz", "ckpt-000002.npz.unreadable"]
    gan, _ = restore_gan(str(damaged))
    assert int(gan.g_optimizer.iterations.numpy()) == 4


def test_an_explicit_damaged_checkpoint_is_a_message(damaged):
    _flip_a_byte(damaged / "checkpoints" / "ckpt-000002.npz")
    with pytest.raises(ValueError, match="ckpt-000002.npz.* cannot be restored: .*CRC"):
        restore_gan(str(damaged), checkpoint=str(damaged / "checkpoints" / "ckpt-000002.npz"))


def _manager_gan():
    import keras

    from gan_tf import GAN, networks

    keras.utils.set_random_seed(0)
    gan = GAN(networks.dcgan_generator(4, (8, 8, 1), width=4), networks.dcgan_discriminator((8, 8, 1), width=4), 4)
    gan.compile(d_optimizer=keras.optimizers.Adam(), g_optimizer=keras.optimizers.Adam())
    return gan


def test_unreadable_newer_checkpoints_never_push_good_older_ones_out(tmp_path):
    manager = CheckpointManager(_manager_gan(), str(tmp_path))
    for epoch in (10, 11, 12):
        manager.save(epoch)
    (tmp_path / "ckpt-000013.npz").write_bytes(b"PK\x03\x04 torn")
    (tmp_path / "ckpt-000014.npz").write_bytes(b"")
    assert manager.restore_latest(set_aside_unreadable=True) == 12
    manager.save(13)
    assert sorted(os.listdir(tmp_path)) == ["ckpt-000011.npz", "ckpt-000012.npz", "ckpt-000013.npz",
                                            "ckpt-000013.npz.unreadable", "ckpt-000014.npz.unreadable"]
    assert manager.restore_latest() == 13


def _replace_member(path, name, content):
    buffer = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, content if info.filename == name else source.read(info.filename))
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def _npy_header(shape, dtype="<f4"):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, {"descr": dtype, "fortran_order": False, "shape": shape})
    return out.getvalue()  # magic string included


def test_a_header_declaring_4_tib_is_refused_before_reading_and_falls_back(tmp_path):
    manager = CheckpointManager(_manager_gan(), str(tmp_path))
    manager.save(1)
    manager.save(2)
    # 2**40 float32 = 4 TiB declared, 16 bytes present: np.load would try to allocate it.
    _replace_member(str(tmp_path / "ckpt-000002.npz"), "generator/0000.npy", _npy_header((2**40,)) + b"\0" * 16)
    with pytest.raises(ValueError, match=r"generator/0000 .*has shape \[1099511627776\]"):
        manager.restore(str(tmp_path / "ckpt-000002.npz"))
    assert manager.restore_latest() == 1


def test_a_member_longer_than_its_header_or_of_another_dtype_is_refused(tmp_path):
    gan = _manager_gan()
    manager = CheckpointManager(gan, str(tmp_path))
    manager.save(1)
    shape = tuple(gan.generator.variables[0].shape)
    count = int(np.prod(shape))
    path = str(tmp_path / "ckpt-000001.npz")
    _replace_member(path, "generator/0000.npy", _npy_header(shape) + b"\0" * (4 * count + 2**20))
    with pytest.raises(ValueError, match="more bytes than its header declares"):
        manager.restore(path)
    _replace_member(path, "generator/0000.npy", _npy_header(shape, "<f8") + b"\0" * (8 * count))
    with pytest.raises(ValueError, match="dtype float64, expected .* float32"):
        manager.restore(path)


# ------------------------------------------------------------ 2. re-creatable artefacts
def test_every_artefact_of_a_finished_run_is_recreated_by_rerunning(data_dir, damaged):
    lines = (damaged / "metrics.jsonl").read_text().splitlines()
    (damaged / "samples" / "final.png").write_bytes(b"")  # a kill while it was written
    os.remove(damaged / "samples" / "epoch_0002.png")
    (damaged / "metrics.jsonl").write_text(lines[0] + "\n")  # the last line lost
    leftovers = [damaged / "checkpoints" / "ckpt-000003.npz.k1ll3d.partial", damaged / "metrics.jsonl.x.partial"]
    for path in leftovers:  # what writes interrupted by a kill leave
        path.write_bytes(b"half")
    result = run(_tiny(data_dir, damaged, epochs=2))
    assert result["history"] == {}
    assert not any(path.exists() for path in leftovers)
    assert (damaged / "samples" / "final.png").stat().st_size > 0
    assert (damaged / "samples" / "epoch_0002.png").stat().st_size > 0
    assert (damaged / "metrics.jsonl").read_text().splitlines() == lines


# ------------------------------------------------------------ 3. torn metrics.jsonl
def test_a_torn_last_metrics_line_is_dropped_and_a_corrupt_middle_line_named(data_dir, damaged, caplog):
    lines = (damaged / "metrics.jsonl").read_text().splitlines()
    # A disk that filled during the append of epoch 2's line, which the rerun then redoes.
    os.remove(damaged / "checkpoints" / "ckpt-000002.npz")
    (damaged / "metrics.jsonl").write_text(lines[0] + "\n" + lines[1][:40])
    assert run(_tiny(data_dir, damaged, epochs=2))["start_epoch"] == 1
    assert [json.loads(line)["epoch"] for line in (damaged / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    assert "torn last line 2" in caplog.text

    (damaged / "metrics.jsonl").write_text("{oops\n" + lines[1] + "\n")
    with pytest.raises(ValueError, match=r"metrics.jsonl, line 1, is not a metrics record"):
        run(_tiny(data_dir, damaged, epochs=2))


# ------------------------------------------------------------ 4. no checkpoint, no run to protect
def test_a_directory_without_checkpoints_is_taken_over_by_the_corrected_command(data_dir, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="--batch_size=64 is larger than the data"):
        run(_tiny(data_dir, out, batch_size=64))
    assert not (out / "config.json").exists()
    # What a run stopped by a NaN in its first epoch leaves: config.json, no checkpoint.
    out.mkdir(exist_ok=True)
    (out / "config.json").write_text(json.dumps({"flags": _tiny(data_dir, out, d_lr=1e30).to_dict()}))
    assert run(_tiny(data_dir, out, d_lr=1e-4))["start_epoch"] == 0
    assert json.loads((out / "config.json").read_text())["flags"]["d_lr"] == 1e-4


def test_labels_out_of_range_are_refused_before_config_json(tmp_path, tiny_mnist):
    data = tiny_mnist.write(tmp_path / "data", np.zeros((16, 28, 28), np.uint8), np.full(16, 200, np.uint8),
                            np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.uint8))
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"labels lie in \[200, 200\].*labels in \[0, 9\]"):
        run(_tiny(data, out, conditional="projection"))
    assert not (out / "config.json").exists()


# ------------------------------------------------------------ 5. deleted config.json
def test_checkpoints_refuse_another_recipe_and_noresume_even_without_config_json(data_dir, damaged):
    os.remove(damaged / "config.json")
    before = sorted(glob.glob(str(damaged / "**"), recursive=True))
    with pytest.raises(ValueError, match="--noresume"):
        run(_tiny(data_dir, damaged, epochs=2, resume=False, seed=99))
    with pytest.raises(ValueError, match="checkpoints of a different run .*seed: 4 there, 99 now"):
        run(_tiny(data_dir, damaged, epochs=2, seed=99))
    assert sorted(glob.glob(str(damaged / "**"), recursive=True)) == before


# ------------------------------------------------------------ 7. symlinks
def test_symlinks_in_a_run_directory_are_refused_and_never_written_through(data_dir, damaged, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    os.symlink(victim, damaged / ".write_probe")
    with pytest.raises(ValueError, match=r"holds a symlink, .*\.write_probe"):
        run(_tiny(data_dir, damaged, epochs=2))
    assert victim.read_text() == "precious"

    from gan_tf.experiments.runner import _probe_writable

    _probe_writable(str(damaged))  # removes the link itself, then creates its probe exclusively
    assert victim.read_text() == "precious" and not os.path.lexists(damaged / ".write_probe")

    other = tmp_path / "other_checkpoints"
    os.rename(damaged / "checkpoints", other)
    os.symlink(other, damaged / "checkpoints")
    with pytest.raises(ValueError, match="holds a symlink, .*checkpoints"):
        run(_tiny(data_dir, damaged, epochs=3))
    assert sorted(os.listdir(other)) == ["ckpt-000001.npz", "ckpt-000002.npz"]


# ------------------------------------------------------------ atomic writes, written once
def test_atomic_write_keeps_the_old_file_on_failure_and_replaces_a_planted_symlink(tmp_path):
    target = tmp_path / "record.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.replace_atomically(str(target)) as f:
            f.write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["record.json"]

    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.remove(target)
    os.symlink(victim, target)
    atomic.write_json(str(target), {"a": 1})
    assert victim.read_text() == "precious" and not os.path.islink(target)
    assert json.loads(target.read_text()) == {"a": 1}


def test_files_are_replaced_only_through_the_atomic_helper():
    package = os.path.dirname(atomic.__file__)
    offenders = []
    for path in glob.glob(os.path.join(package, "**", "*.py"), recursive=True):
        if os.path.basename(path) == "atomic.py":
            continue
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if "UNREADABLE_SUFFIX" in line:  # setting a bad checkpoint aside is a rename, not a write
                    continue
                for pattern in ("os.replace(", "os.rename(", '.partial"', '.tmp"', "mkstemp("):
                    if pattern in line:
                        offenders.append(f"{os.path.relpath(path, package)}:{number}: {line.strip()}")
    assert offenders == []


# ------------------------------------------------------------ 9/10. messages
def test_a_config_json_that_is_a_list_or_an_out_dir_that_is_a_file_gets_a_message(data_dir, tmp_path, capsys):
    from gan_tf import generate

    (tmp_path / "config.json").write_text("[1, 2]")
    assert generate.main(["--run_dir", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 1
    assert "holds a JSON list, not an object" in capsys.readouterr().err
    # An object without the data record rebuilding the generator needs: named, not a KeyError.
    (tmp_path / "config.json").write_text('{"flags": {"dataset": "mnist", "conditional": "projection"}}')
    assert generate.main(["--run_dir", str(tmp_path), "--label", "1", "--out", str(tmp_path / "x.png")]) == 1
    assert "config.json lacks data.num_classes" in capsys.readouterr().err
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="--out_dir=.*a_file' is a file, not a directory"):
        run(_tiny(data_dir, blocker))


def test_ctrl_c_says_where_it_stopped_and_how_to_resume(data_dir, tmp_path, monkeypatch):
    from gan_tf.experiments.runner import Interrupted
    from gan_tf.gan import GAN

    def interrupted_fit(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(GAN, "fit", interrupted_fit)
    with pytest.raises(Interrupted, match="stopped by Ctrl-C at step 0; rerun the same command to resume"):
        run(_tiny(data_dir, tmp_path / "run"))


def test_a_relative_data_dir_is_recorded_absolute(data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(os.path.dirname(data_dir))
    out = tmp_path / "run"
    run(_tiny(os.path.basename(data_dir), out))
    assert json.loads((out / "config.json").read_text())["flags"]["data_dir"] == data_dir


def test_evaluate_output_in_a_missing_directory_fails_before_computing(finished, tmp_path, monkeypatch):
    from gan_tf import evaluate as evaluate_cli

    def never(*args):
        raise AssertionError("restored the generator before checking --output")

    monkeypatch.setattr(evaluate_cli, "_restore_gan", never)
    with pytest.raises(evaluate_cli.EvaluateError, match="--output=.*/nonexistent/e.json.*does not exist"):
        evaluate_cli.evaluate(str(finished), output=str(tmp_path / "nonexistent" / "e.json"), verbose=False)


def test_a_time_budget_under_multi_worker_is_refused_before_anything_starts(data_dir, tmp_path):
    with pytest.raises(ValueError, match="--time_budget=1.0 with --strategy=multi_worker"):
        run(_tiny(data_dir, tmp_path / "run", strategy="multi_worker", time_budget=1.0))
    assert not (tmp_path / "run").exists()


def test_atomic_writes_get_the_permissions_open_would_give(tmp_path):
    from gan_tf import atomic

    umask = os.umask(0o027)
    try:
        importlib.reload(atomic)  # the module reads the umask once, at import
        atomic.write_text(str(tmp_path / "a.txt"), "x")
        with open(tmp_path / "b.txt", "w") as f:
            f.write("x")
    finally:
        os.umask(umask)
        importlib.reload(atomic)
    mode = lambda name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)  # noqa: E731
    assert mode("a.txt") == mode("b.txt") == 0o640
