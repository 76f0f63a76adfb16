"""Conditional generators and discriminators: class labels or captions as a second input.

Every generator concatenates an embedding of its condition to the noise and feeds the
result to the unconditional network's body (Mirza & Osindero 2014). The discriminator
combines image and condition in one of three ways (`MODES`):

  concat      the condition's embedding, tiled over the last feature map and
              concatenated along channels, then a 1×1 convolution (Mirza & Osindero
              2014; the spatial replication of Reed et al. 2016).
  projection  logit = ψ(φ(x)) + ⟨v(y), φ(x)⟩, the inner product of the image features
              with the condition's embedding (Miyato & Koyama 2018, "cGANs with
              Projection Discriminator").
  acgan       the discriminator sees only the image and has a second head that
              classifies it (Odena et al. 2017, "Conditional Image Synthesis with
              Auxiliary Classifier GANs"); labels only.

A condition is `LabelInput(num_classes)` (int32 labels [batch]) or
`CaptionInput(vocabulary_size, sequence_length, encoder)` (int32 token ids [batch,
length], encoded by `gan_tf.networks.text.text_encoder`; each network has its own).
"""
import dataclasses

import keras
from keras import layers

from gan_tf.choices import CONDITIONAL_ARCHITECTURES, CONDITIONING_MODES
from gan_tf.networks.dcgan import dcgan_discriminator, dcgan_generator
from gan_tf.networks.mlp import mlp_discriminator, mlp_generator
from gan_tf.networks.text import text_encoder

MODES = CONDITIONING_MODES
ARCHITECTURES = CONDITIONAL_ARCHITECTURES


@dataclasses.dataclass(frozen=True)
class LabelInput:
    """Integer class labels in [0, num_classes) as the condition."""

    num_classes: int

    def __post_init__(self):
        if int(self.num_classes) < 2:
            raise ValueError(f"num_classes={self.num_classes!r}: expected at least 2 classes.")

    def input(self):
        return keras.Input((), dtype="int32", name="labels")

    def encode(self, labels, dim, name):
        return layers.Embedding(self.num_classes, dim, name=name)(labels)


@dataclasses.dataclass(frozen=True)
class CaptionInput:
    """Captions as int32 token ids (0 = padding) as the condition."""

    vocabulary_size: int
    sequence_length: int
    encoder: str = "gru"  # see gan_tf.networks.text.ENCODERS

    def input(self):
        return keras.Input((self.sequence_length,), dtype="int32", name="captions")

    def encode(self, tokens, dim, name):
        return text_encoder(self.vocabulary_size, self.sequence_length, dim, self.encoder, name=name)(tokens)


def _check(architecture, condition, embedding_dim):
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture={architecture!r}: expected one of {', '.join(ARCHITECTURES)}.")
    if not isinstance(condition, (LabelInput, CaptionInput)):
        raise ValueError(f"condition={condition!r}: expected a LabelInput or a CaptionInput.")
    if int(embedding_dim) < 1:
        raise ValueError(f"embedding_dim={embedding_dim!r}: expected a positive integer.")


def conditional_generator(latent_dim, image_shape, condition, architecture="dcgan", embedding_dim=64, width=64,
                          synchronized_batchnorm=False, name="generator"):
    """Generator of images from noise and a condition: [noise, condition] -> images in [-1, 1].

    Args:
      latent_dim: size of the noise vector.
      image_shape: (height, width, channels) of the images.
      condition: `LabelInput` or `CaptionInput`.
      architecture: body of the network, "dcgan" or "mlp".
      embedding_dim: size of the condition's embedding concatenated to the noise.
      width: DCGAN width (see `dcgan_generator`).
      synchronized_batchnorm: BatchNorm statistics over the global batch (DCGAN).
      name: model name.

    Example:
      >>> generator = conditional_generator(100, (28, 28, 1), LabelInput(10))
      >>> generator([noise, labels]).shape    # noise [n, 100], labels int32 [n]
      TensorShape([n, 28, 28, 1])
    """
    _check(architecture, condition, embedding_dim)
    if architecture == "dcgan":
        body = dcgan_generator(latent_dim + embedding_dim, image_shape, width,
                               synchronized_batchnorm=synchronized_batchnorm, name="generator_body")
    else:
        body = mlp_generator(latent_dim + embedding_dim, image_shape, name="generator_body")
    noise = keras.Input((latent_dim,), name="noise")
    given = condition.input()
    embedding = condition.encode(given, embedding_dim, name="condition_embedding")
    images = body(layers.Concatenate(name="noise_and_condition")([noise, embedding]))
    return keras.Model([noise, given], images, name=name)


def _features(architecture, image_shape, width, dropout):
    """The unconditional discriminator without its logit: images -> φ(x)."""
    if architecture == "dcgan":
        base = dcgan_discriminator(image_shape, width, dropout)
        output = base.get_layer("flatten").input  # [batch, h, w, c]: concat tiles onto it
    else:
        base = mlp_discriminator(image_shape, dropout=dropout)
        output = base.get_layer("logit").input  # [batch, units]
    return keras.Model(base.input, output, name="discriminator_body")


def conditional_discriminator(image_shape, condition, mode="projection", architecture="dcgan", embedding_dim=64,
                              width=64, dropout=0.3, name="discriminator"):
    """Discriminator of (image, condition) pairs, or of images with a class head (ACGAN).

    Args:
      image_shape: (height, width, channels) of the images.
      condition: `LabelInput` or `CaptionInput` (`acgan`: a `LabelInput`).
      mode: one of `MODES` (see the module docstring).
      architecture: body of the network, "dcgan" or "mlp".
      embedding_dim: size of the condition's embedding for `concat` (projection
        embeds into the feature size).
      width: DCGAN width (see `dcgan_discriminator`).
      dropout: dropout rate of the body.
      name: model name.

    Returns:
      concat / projection: a `keras.Model` [images, condition] -> [batch, 1] float32 logits.
      acgan: a `keras.Model` images -> ([batch, 1] logits, [batch, num_classes] class logits).
    """
    _check(architecture, condition, embedding_dim)
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: expected one of {', '.join(MODES)}.")
    if mode == "acgan" and not isinstance(condition, LabelInput):
        raise ValueError("mode='acgan' classifies images into labels: expected a LabelInput condition.")
    features = _features(architecture, image_shape, width, dropout)
    images = keras.Input(image_shape, name="images")
    feature_map = features(images)

    if mode == "acgan":
        phi = layers.Flatten(name="flatten")(feature_map)
        logits = layers.Dense(1, dtype="float32", name="logit")(phi)
        class_logits = layers.Dense(condition.num_classes, dtype="float32", name="class_logits")(phi)
        return keras.Model(images, [logits, class_logits], name=name)

    given = condition.input()
    if mode == "projection":
        phi = feature_map if len(feature_map.shape) == 2 else layers.Flatten(name="flatten")(feature_map)
        psi = layers.Dense(1, name="unconditional_logit")(phi)
        embedding = condition.encode(given, phi.shape[-1], name="condition_projection")
        projection = layers.Dot(axes=1, name="projection")([phi, embedding])
        logits = layers.Add(dtype="float32", name="logit")([psi, projection])
        return keras.Model([images, given], logits, name=name)

    embedding = condition.encode(given, embedding_dim, name="condition_embedding")
    if len(feature_map.shape) == 4:
        height, width_, channels = feature_map.shape[1:]
        tiled = layers.Reshape((1, 1, embedding_dim), name="condition_pixel")(embedding)
        tiled = layers.UpSampling2D((height, width_), name="condition_tiled")(tiled)
        x = layers.Concatenate(name="image_and_condition")([feature_map, tiled])
        x = layers.Conv2D(channels, 1, name="joint_conv")(x)
        x = layers.LeakyReLU(0.2, name="joint_lrelu")(x)
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.Concatenate(name="image_and_condition")([feature_map, embedding])
        x = layers.Dense(feature_map.shape[-1], name="joint_dense")(x)
        x = layers.LeakyReLU(0.2, name="joint_lrelu")(x)
    logits = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model([images, given], logits, name=name)
