"""The conditional parts of an experiment run: conditioning, networks and the run's text record.

A text run writes `text.json` into its run directory before the first step: the
captions (training and held-out phrasings) and the vocabulary its encoders were built
on. Resuming, generating and evaluating read them back from there, so a run keeps
understanding the prompts it was trained on even if the caption templates in the code
change later.
"""
import json
import os

from absl import logging

from gan_tf import atomic, networks, text
from gan_tf.conditioning import ClassConditioning, TextConditioning
from gan_tf.networks.conditional import conditional_discriminator, conditional_generator

TEXT_FILE = "text.json"


def load_text(run_dir):
    """(CaptionSet, Vocabulary) recorded in `run_dir`, or None if it has no `text.json`."""
    path = os.path.join(run_dir, TEXT_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        record = json.load(f)
    return text.CaptionSet.from_dict(record["captions"]), text.Vocabulary.from_dict(record["vocabulary"])


def save_text(conditioning, run_dir):
    """Writes a text conditioning's captions and vocabulary to `run_dir/text.json` (atomically)."""
    record = {"captions": conditioning.captions.to_dict(), "vocabulary": conditioning.vocabulary.to_dict()}
    path = os.path.join(run_dir, TEXT_FILE)
    atomic.write_json(path, record, indent=1)


def make_conditioning(config, num_classes, run_dir=None):
    """The conditioning object of a config (None when `--conditional=none`).

    Args:
      config: an `ExperimentConfig`.
      num_classes: classes of the data set (from `DataInfo.num_classes` or config.json).
      run_dir: a text run's directory: its recorded captions and vocabulary are used
        when it has them, else the data set's from `gan_tf.text`.
    """
    if config.conditional == "none":
        return None
    if not num_classes:
        raise ValueError(f"--conditional={config.conditional} needs class labels; dataset {config.dataset!r} has none.")
    if not config.text:
        return ClassConditioning(num_classes, config.conditional, config.class_loss_weight,
                                 config.resolved_mode_seeking_weight)
    recorded = load_text(run_dir) if run_dir else None
    if recorded is None:
        if run_dir and os.path.exists(os.path.join(run_dir, "checkpoints")):
            logging.warning("%s has no %s; using the captions of the current code.", run_dir, TEXT_FILE)
        captions = text.caption_set(config.dataset)
        recorded = captions, text.caption_vocabulary(captions)
    captions, vocabulary = recorded
    if captions.num_classes != num_classes:
        raise ValueError(
            f"The captions describe {captions.num_classes} classes, but dataset {config.dataset!r} has {num_classes}."
        )
    return TextConditioning(captions, vocabulary, config.conditional, config.text_encoder, config.mismatch_weight,
                            config.resolved_mode_seeking_weight)


def build_networks(config, image_shape, conditioning, replicas=1):
    """(generator, discriminator) of a config: unconditional, or matching `conditioning`."""
    if conditioning is None:
        # spectral_norm is passed only when on, so builders without the argument still work.
        spectral_norm = {"spectral_norm": True} if config.spectral_norm else {}
        if config.architecture == "dcgan":
            generator = networks.dcgan_generator(
                config.latent_dim, image_shape, config.width, synchronized_batchnorm=replicas > 1
            )
            return generator, networks.dcgan_discriminator(image_shape, config.width, config.d_dropout, **spectral_norm)
        if config.architecture == "resnet":
            from gan_tf.networks import resnet

            return (resnet.resnet_generator(config.latent_dim, image_shape, config.width),
                    resnet.resnet_discriminator(image_shape, config.width, **spectral_norm))
        return (networks.mlp_generator(config.latent_dim, image_shape),
                networks.mlp_discriminator(image_shape, dropout=config.d_dropout))
    condition = conditioning.network_input
    generator = conditional_generator(
        config.latent_dim, image_shape, condition, config.architecture, config.embedding_dim, config.width,
        synchronized_batchnorm=replicas > 1,
    )
    discriminator = conditional_discriminator(
        image_shape, condition, conditioning.mode, config.architecture, config.embedding_dim, config.width,
        config.d_dropout,
    )
    return generator, discriminator
