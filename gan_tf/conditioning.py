"""What a conditional `GAN` feeds its networks besides noise and images.

A conditioning object turns a batch's integer class labels into the condition both
networks take, and says how the discriminator uses it:

  ClassConditioning(num_classes, mode)   the labels themselves; mode "concat",
                                         "projection" or "acgan" (see
                                         `gan_tf.networks.conditional`).
  TextConditioning(captions, vocabulary) a caption of each label's class, drawn per
                                         example from the training phrasings, as token
                                         ids; the discriminator is matching-aware
                                         (GAN-CLS, Reed et al. 2016).

Captions are drawn inside the training step from a constant table of every training
caption's token ids, with the GAN's own per-replica random stream: each replica draws
for its own examples, the draws do not depend on the replica count, and a resumed run
draws exactly what an uninterrupted one would (the stream's state is checkpointed).
"""
import numpy as np
import tensorflow as tf

from gan_tf import losses as gan_losses
from gan_tf.choices import CONDITIONING_MODES, TEXT_CONDITIONING_MODES
from gan_tf.networks.conditional import CaptionInput, LabelInput
from gan_tf.terms import Term


class LabelError(ValueError):
    """Labels out of range, of the wrong type, or given to a model that takes none."""


class AuxiliaryClassifierTerm(Term):
    """ACGAN (Odena et al. 2017): both networks also minimise the class cross-entropy L_C
    (eq. 2): the discriminator on real and generated images, the generator on its own."""

    log_keys = ("d_class_loss", "g_class_loss")

    def __init__(self, weight):
        self.weight = weight

    def discriminator_term(self, gan, step):
        class_loss = tf.reduce_mean(
            gan_losses.auxiliary_classifier_loss(step.real_classes, step.labels)
            + gan_losses.auxiliary_classifier_loss(step.fake_classes, step.labels)
        )
        return self.weight * class_loss, {"d_class_loss": class_loss}

    def generator_term(self, gan, step):
        class_loss = tf.reduce_mean(gan_losses.auxiliary_classifier_loss(step.fake_classes, step.labels))
        return self.weight * class_loss, {"g_class_loss": class_loss}


class ModeSeekingTerm(Term):
    """MSGAN (Mao et al. 2019): the same conditions with other noise must give other
    images; costs one more generator pass, for this term only."""

    log_keys = ("mode_seeking_loss",)

    def __init__(self, weight):
        self.weight = weight

    def generator_term(self, gan, step):
        other_noise = gan._noise(tf.shape(step.noise)[0])
        other_images = gan._generate(other_noise, step.condition, training=True)
        seeking = gan_losses.mode_seeking_loss(step.fake_images, other_images, step.noise, other_noise,
                                               batch_mean=_global_batch_mean)
        return self.weight * seeking, {"mode_seeking_loss": seeking}


def _global_batch_mean(values):
    """The mean of `values` over the global batch (every replica holds as many rows);
    differentiable: the gradient of an all-reduce is an all-reduce."""
    local = tf.reduce_mean(values)
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return local
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, local)


class MismatchedPairsTerm(Term):
    """GAN-CLS (Reed et al. 2016, alg. 1): a real image with a caption of another class is
    fake too. With weight w the discriminator's adversarial loss becomes
    (1 - w)·L(real, fake) + w·L(real, mismatched) (Reed et al.: w = ½), and `d_loss`
    reports that mixture."""

    log_keys = ("d_wrong",)

    def __init__(self, conditioning):
        self.conditioning = conditioning

    def discriminator_term(self, gan, step):
        conditioning = self.conditioning
        uniform = lambda: gan._uniform(tf.shape(step.real_images)[0])  # noqa: E731
        wrong = conditioning.condition(conditioning.mismatched_labels(step.labels, uniform), uniform)
        wrong_logits, _ = gan.discriminate(step.real_images, wrong)
        d_loss = tf.reduce_mean(gan.loss_pair.discriminator_loss(step.real_logits, step.fake_logits))
        mismatched = tf.reduce_mean(gan.loss_pair.discriminator_loss(step.real_logits, wrong_logits))
        extra = conditioning.mismatch_weight * (mismatched - d_loss)
        return extra, {"d_wrong": tf.reduce_mean(tf.cast(wrong_logits, tf.float32)), "d_loss": d_loss + extra}


class ClassConditioning:
    """Class labels as the condition of both networks.

    Args:
      num_classes: number of classes; labels are integers in [0, num_classes).
      mode: how the discriminator uses the label: "concat" (Mirza & Osindero 2014),
        "projection" (Miyato & Koyama 2018) or "acgan" (an auxiliary classifier,
        Odena et al. 2017: the discriminator sees only the image).
      class_loss_weight: ACGAN: weight of the classification loss beside the
        adversarial one, in both networks' losses (1 in the paper).
      mode_seeking_weight: λ of the mode-seeking term (MSGAN, Mao et al. 2019) in the
        generator's loss, 0 = off. Conditional generators tend to ignore the noise and
        draw one image per condition; the term λ / (d(G(c, z1), G(c, z2)) / d(z1, z2))
        makes them pay for it (see `gan_tf.losses.mode_seeking_loss`).
    """

    kind = "class"
    matching_aware = False
    MODES = CONDITIONING_MODES

    def __init__(self, num_classes, mode="projection", class_loss_weight=1.0, mode_seeking_weight=0.0):
        if int(num_classes) < 2:
            raise ValueError(f"num_classes={num_classes!r}: expected at least 2 classes.")
        if mode not in self.MODES:
            raise ValueError(f"mode={mode!r}: expected one of {', '.join(self.MODES)}.")
        for key, value in (("class_loss_weight", class_loss_weight), ("mode_seeking_weight", mode_seeking_weight)):
            if not value >= 0:
                raise ValueError(f"{key}={value!r}: expected a weight >= 0.")
        self.num_classes = int(num_classes)
        self.mode = mode
        self.class_loss_weight = float(class_loss_weight)
        self.mode_seeking_weight = float(mode_seeking_weight)

    @property
    def discriminator_takes_condition(self):
        return self.mode != "acgan"

    @property
    def auxiliary_classifier(self):
        return self.mode == "acgan"

    @property
    def network_input(self):
        """The condition input of the network builders (`gan_tf.networks.conditional`)."""
        return LabelInput(self.num_classes)

    @property
    def terms(self):
        """The `gan_tf.terms` interface: this conditioning's loss terms, in the order applied."""
        terms = [AuxiliaryClassifierTerm(self.class_loss_weight)] if self.auxiliary_classifier else []
        return terms + ([ModeSeekingTerm(self.mode_seeking_weight)] if self.mode_seeking_weight else [])

    @property
    def log_keys(self):
        return tuple(key for term in self.terms for key in term.log_keys)

    def check_labels(self, labels, n):
        """`labels` (an int or n ints) as an int32 numpy array [n]; raises `LabelError` if out of range."""
        values = np.asarray(labels)
        if values.ndim == 0:
            values = np.full([n], values)
        if values.shape != (n,):
            raise LabelError(f"labels of shape {values.shape}: expected one label or {n} labels, one per image.")
        if values.dtype == bool or not (np.issubdtype(values.dtype, np.integer) or (
                np.issubdtype(values.dtype, np.floating) and np.all(values == np.round(values)))):
            raise LabelError(f"labels={labels!r}: expected integers in [0, {self.num_classes - 1}].")
        bad = values[(values < 0) | (values >= self.num_classes)]
        if bad.size:
            raise LabelError(
                f"label {bad.ravel()[0].item()!r} is out of range: expected an integer in [0, {self.num_classes - 1}] "
                f"(the model has {self.num_classes} classes)."
            )
        return values.astype(np.int32)

    def balanced_labels(self, n):
        """[n] labels cycling through the classes: 0, 1, ..., C-1, 0, 1, ..."""
        return np.arange(n, dtype=np.int32) % self.num_classes

    def condition(self, labels, uniform):
        """The networks' condition for int labels [batch] (`uniform` is unused here)."""
        del uniform
        return tf.cast(labels, tf.int32)

    def get_config(self):
        return {"kind": self.kind, "num_classes": self.num_classes, "mode": self.mode,
                "class_loss_weight": self.class_loss_weight, "mode_seeking_weight": self.mode_seeking_weight}


class TextConditioning(ClassConditioning):
    """Captions as the condition; the discriminator also judges whether they match.

    Args:
      captions: a `gan_tf.text.CaptionSet`; its `train` captions are drawn in training.
      vocabulary: the `gan_tf.text.Vocabulary` that turns them (and prompts) into token ids.
      mode: how the discriminator uses the caption vector: "concat" or "projection".
      encoder: the networks' text encoder, "gru" or "attention" (`gan_tf.networks.text`).
      mismatch_weight: w in the discriminator's loss real + (1 - w)·fake + w·mismatched;
        Reed et al. use ½; 0 turns GAN-CLS off (a plain text-conditional GAN).
      mode_seeking_weight: see `ClassConditioning`.
    """

    kind = "text"
    MODES = TEXT_CONDITIONING_MODES

    def __init__(self, captions, vocabulary, mode="projection", encoder="gru", mismatch_weight=0.5,
                 mode_seeking_weight=0.0):
        if mode not in self.MODES:
            raise ValueError(
                f"mode={mode!r}: text conditioning expects one of {', '.join(self.MODES)} "
                "(ACGAN classifies labels; a caption is not a label)."
            )
        super().__init__(captions.num_classes, mode, mode_seeking_weight=mode_seeking_weight)
        if not 0.0 <= mismatch_weight <= 1.0:
            raise ValueError(f"mismatch_weight={mismatch_weight!r}: expected a weight in [0, 1].")
        self.mismatch_weight = float(mismatch_weight)
        self.encoder = encoder
        self.captions = captions
        self.vocabulary = vocabulary
        counts = [len(per_class) for per_class in captions.train]
        if min(counts) < 1:
            raise ValueError("Every class needs at least one training caption.")
        # bank[c, i] = token ids of class c's i-th training caption; rows past counts[c] are padding.
        bank = np.zeros((self.num_classes, max(counts), vocabulary.sequence_length), np.int32)
        for label, per_class in enumerate(captions.train):
            bank[label, : len(per_class)] = vocabulary.encode(list(per_class))
        self.bank = tf.constant(bank)
        self.counts = tf.constant(counts, tf.int32)

    @property
    def matching_aware(self):
        """GAN-CLS is on: the discriminator also sees real images with mismatched captions."""
        return self.mismatch_weight > 0

    @property
    def network_input(self):
        return CaptionInput(self.vocabulary.size, self.vocabulary.sequence_length, self.encoder)

    @property
    def terms(self):
        # d_wrong: mean discriminator output on real images with mismatched captions.
        return ([MismatchedPairsTerm(self)] if self.matching_aware else []) + super().terms

    def condition(self, labels, uniform):
        """Token ids [batch, length] of one training caption of each label's class.

        Args:
          labels: int [batch].
          uniform: callable returning float32 U[0, 1) values of shape [batch].
        """
        labels = tf.cast(labels, tf.int32)
        counts = tf.gather(self.counts, labels)
        index = tf.minimum(tf.cast(uniform() * tf.cast(counts, tf.float32), tf.int32), counts - 1)
        return tf.gather_nd(self.bank, tf.stack([labels, index], axis=1))

    def mismatched_labels(self, labels, uniform):
        """A different class for every label: (label + k) mod C with k uniform in [1, C-1]."""
        labels = tf.cast(labels, tf.int32)
        offset = 1 + tf.minimum(tf.cast(uniform() * (self.num_classes - 1), tf.int32), self.num_classes - 2)
        return (labels + offset) % self.num_classes

    def encode(self, prompts):
        """Checked token ids (numpy int32 [n, length]) of prompt strings; see `Vocabulary.check`."""
        return self.vocabulary.encode(prompts)

    def get_config(self):
        return {
            "kind": self.kind,
            "mode": self.mode,
            "encoder": self.encoder,
            "mismatch_weight": self.mismatch_weight,
            "mode_seeking_weight": self.mode_seeking_weight,
            "captions": self.captions.to_dict(),
            "vocabulary": self.vocabulary.to_dict(),
        }


def from_config(config):
    """Rebuilds a conditioning object from its `get_config()` dict (None stays None)."""
    if config is None:
        return None
    if config["kind"] == "class":
        return ClassConditioning(config["num_classes"], config["mode"], config.get("class_loss_weight", 1.0),
                                 config.get("mode_seeking_weight", 0.0))
    if config["kind"] == "text":
        from gan_tf.text import CaptionSet, Vocabulary

        return TextConditioning(
            CaptionSet.from_dict(config["captions"]), Vocabulary.from_dict(config["vocabulary"]), config["mode"],
            config.get("encoder", "gru"), config.get("mismatch_weight", 0.5), config.get("mode_seeking_weight", 0.0),
        )
    raise ValueError(f"conditioning kind {config['kind']!r}: expected 'class' or 'text'.")
