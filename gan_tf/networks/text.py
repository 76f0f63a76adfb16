"""Small text encoders: token ids -> one vector per caption, trained with the GAN.

Reed et al. 2016 ("Generative Adversarial Text to Image Synthesis") encode captions
with a pre-trained char-CNN-RNN. Here there is nothing to pre-train on and the
captions are short, so word embeddings and one small block learned with each network
suffice: the generator's encoder learns what makes the discriminator accept an image
for a caption, the discriminator's encoder what tells matching captions from
mismatched ones. Two encoders (`ENCODERS`):

  gru        word embeddings and a GRU (Cho et al. 2014) whose last state is the
             caption vector; the default, closest to Reed et al.'s recurrent encoder.
  attention  word + position embeddings, one transformer block (self-attention and a
             feed-forward layer, Vaswani et al. 2017), masked mean over the words.

Both ignore the padding (token 0) and cost about the same (docs/conditional.md gives
the step times); the discriminator encodes captions three times per update: with
real, fake and mismatched pairs.
"""

import keras
from keras import layers

from gan_tf.choices import TEXT_ENCODERS as ENCODERS


@keras.saving.register_keras_serializable(package="gan_tf")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position to [batch, length, dim] inputs."""

    def __init__(self, sequence_length, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)

    def build(self, input_shape):
        self.positions = self.add_weight(
            shape=(self.sequence_length, input_shape[-1]), initializer=keras.initializers.RandomNormal(0.0, 0.02),
            name="positions",
        )

    def call(self, inputs):
        return inputs + keras.ops.cast(self.positions, inputs.dtype)[None]

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length}


@keras.saving.register_keras_serializable(package="gan_tf")
class MaskedMean(keras.layers.Layer):
    """Mean over the words of [batch, length, dim] vectors, skipping padding (token 0)."""

    def call(self, vectors, tokens):
        mask = keras.ops.cast(keras.ops.not_equal(tokens, 0), vectors.dtype)[..., None]
        total = keras.ops.sum(vectors * mask, axis=1)
        return total / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)


@keras.saving.register_keras_serializable(package="gan_tf")
class PaddingMask(keras.layers.Layer):
    """[batch, length, length] attention mask: True where both words are not padding."""

    def call(self, tokens):
        words = keras.ops.not_equal(tokens, 0)
        return keras.ops.logical_and(words[:, :, None], words[:, None, :])


def text_encoder(vocabulary_size, sequence_length, output_dim, encoder="gru", embedding_dim=32, units=64,
                 heads=2, name="text_encoder"):
    """A caption encoder: int32 token ids [batch, sequence_length] -> [batch, output_dim].

    Args:
      vocabulary_size: number of token ids, padding (0) and out-of-vocabulary (1) included.
      sequence_length: token ids per caption (0-padded at the end).
      output_dim: size of the caption vector.
      encoder: "gru" or "attention" (see the module docstring).
      embedding_dim: size of the word embeddings (and of the attention block).
      units: GRU units, or the feed-forward layer's size in the attention block.
      heads: attention heads.
      name: model name.

    Example:
      >>> encoder = text_encoder(vocabulary_size=40, sequence_length=12, output_dim=64)
      >>> encoder.output_shape
      (None, 64)
    """
    if encoder not in ENCODERS:
        raise ValueError(f"encoder={encoder!r}: expected one of {', '.join(ENCODERS)}.")
    for key, value in dict(vocabulary_size=vocabulary_size, sequence_length=sequence_length, output_dim=output_dim,
                           embedding_dim=embedding_dim, units=units, heads=heads).items():
        if int(value) < 1:
            raise ValueError(f"{key}={value!r}: expected a positive integer.")
    tokens = keras.Input((sequence_length,), dtype="int32", name="tokens")
    if encoder == "gru":
        # mask_zero: the GRU skips the padding, so its state is the one after the last word.
        x = layers.Embedding(vocabulary_size, embedding_dim, mask_zero=True, name="word_embedding")(tokens)
        x = layers.GRU(units, name="gru")(x)
    else:
        x = layers.Embedding(vocabulary_size, embedding_dim, name="word_embedding")(tokens)
        x = PositionEmbedding(sequence_length, name="position_embedding")(x)
        attended = layers.MultiHeadAttention(heads, max(1, embedding_dim // heads), name="self_attention")(
            x, x, attention_mask=PaddingMask(name="padding_mask")(tokens))
        x = layers.LayerNormalization(name="attention_norm")(x + attended)
        hidden = layers.Dense(units, activation="relu", name="feed_forward_in")(x)
        hidden = layers.Dense(embedding_dim, name="feed_forward_out")(hidden)
        x = layers.LayerNormalization(name="feed_forward_norm")(x + hidden)
        x = MaskedMean(name="mean_over_words")(x, tokens)
    # No bias: every use adds its own (and in the generator BatchNorm removes a constant
    # shift anyway; there a bias would get only rounding noise as gradient, which Adam
    # magnifies into steps that differ between one device and several replicas).
    vector = layers.Dense(output_dim, use_bias=False, name="caption_vector")(x)
    return keras.Model(tokens, vector, name=name)
