"""docs/flags.md is what `python -m gan_tf.experiments.flags_doc` prints from the declarations."""
import os

from gan_tf.experiments import flags_doc

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "flags.md")


def test_docs_flags_md_is_up_to_date():
    with open(DOC) as f:
        recorded = f.read()
    assert recorded == flags_doc.document(), (
        "docs/flags.md is out of date: run `python -m gan_tf.experiments.flags_doc > docs/flags.md`")


def test_each_experiment_has_its_table_with_its_own_defaults():
    text = flags_doc.document()
    for name, row in [("celeba", "| `--batch_size` | `128` |"), ("images", "| `--epochs` | `100` |"),
                      ("fashion_mnist", "| `--epochs` | `5` |"), ("mnist", "| `--epochs` | `60` |")]:
        section = text.split(f"## `python -m gan_tf.experiments.{name}`")[1].split("\n## ")[0]
        assert row in section, name
    assert "| `--ema_kimg` | `10.0` | `0.0` |" in text  # modern's default beside dcgan2016's
