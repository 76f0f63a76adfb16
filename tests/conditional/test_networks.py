"""Conditional network builders: shapes and dtypes of every variant, and that the condition matters."""
import numpy as np
import pytest

from gan_tf.networks.conditional import (
    CaptionInput,
    LabelInput,
    conditional_discriminator,
    conditional_generator,
)
from gan_tf.networks.text import text_encoder

SHAPE = (8, 8, 1)
LABELS = LabelInput(5)
CAPTIONS = CaptionInput(vocabulary_size=12, sequence_length=6)
CAPTIONS_ATTENTION = CaptionInput(vocabulary_size=12, sequence_length=6, encoder="attention")


def _condition(spec, n=4):
    if isinstance(spec, LabelInput):
        return np.arange(n, dtype=np.int32) % spec.num_classes
    tokens = np.zeros((n, spec.sequence_length), np.int32)
    tokens[:, :3] = np.arange(2, 2 + 3 * n).reshape(n, 3) % (spec.vocabulary_size - 2) + 2
    return tokens


def _images(n=4):
    return np.random.RandomState(0).uniform(-1, 1, (n,) + SHAPE).astype(np.float32)


@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
@pytest.mark.parametrize("spec", [LABELS, CAPTIONS, CAPTIONS_ATTENTION], ids=["labels", "gru", "attention"])
def test_generator_shapes_and_dtypes(spec, architecture):
    generator = conditional_generator(3, SHAPE, spec, architecture, embedding_dim=4, width=4)
    images = generator([np.zeros((4, 3), np.float32), _condition(spec)])
    assert images.shape == (4,) + SHAPE and images.dtype == "float32"
    assert np.abs(images.numpy()).max() <= 1.0


@pytest.mark.parametrize("architecture", ["dcgan", "mlp"])
@pytest.mark.parametrize("mode, spec", [
    ("concat", LABELS), ("projection", LABELS), ("concat", CAPTIONS), ("projection", CAPTIONS),
    ("projection", CAPTIONS_ATTENTION),
], ids=["concat-labels", "projection-labels", "concat-gru", "projection-gru", "projection-attention"])
def test_discriminator_shapes_and_dtypes(mode, spec, architecture):
    discriminator = conditional_discriminator(SHAPE, spec, mode, architecture, embedding_dim=4, width=4, dropout=0.0)
    logits = discriminator([_images(), _condition(spec)])
    assert logits.shape == (4, 1) and logits.dtype == "float32"


def test_acgan_discriminator_has_a_class_head():
    discriminator = conditional_discriminator(SHAPE, LABELS, "acgan", width=4, dropout=0.0)
    assert len(discriminator.inputs) == 1  # the image only
    logits, class_logits = discriminator(_images())
    assert logits.shape == (4, 1) and class_logits.shape == (4, 5)
    assert logits.dtype == "float32" and class_logits.dtype == "float32"


@pytest.mark.parametrize("mode", ["projection", "concat"])
def test_discriminator_output_changes_with_the_label(mode):
    discriminator = conditional_discriminator(SHAPE, LABELS, mode, width=4, dropout=0.0)
    images = np.repeat(_images(1), 5, axis=0)  # one image, every label
    logits = discriminator([images, np.arange(5, dtype=np.int32)]).numpy().ravel()
    assert len(np.unique(np.round(logits, 6))) == 5
    # ... and the image still matters for a fixed label.
    other = discriminator([_images(5), np.zeros(5, np.int32)]).numpy().ravel()
    assert len(np.unique(np.round(other, 6))) == 5


def test_projection_is_an_inner_product_with_the_class_embedding():
    # logit(x, y) - logit(x, y') = <v_y - v_y', phi(x)> (Miyato & Koyama 2018, eq. 3).
    discriminator = conditional_discriminator(SHAPE, LABELS, "projection", width=4, dropout=0.0)
    body = discriminator.get_layer("discriminator_body")
    embedding = discriminator.get_layer("condition_projection").embeddings.numpy()
    image = _images(1)
    phi = body(image).numpy().reshape(-1)
    logits = discriminator([np.repeat(image, 2, axis=0), np.array([1, 3], np.int32)]).numpy().ravel()
    np.testing.assert_allclose(logits[0] - logits[1], phi @ (embedding[1] - embedding[3]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("encoder", ["gru", "attention"])
def test_text_encoder_ignores_padding_and_reads_words(encoder):
    model = text_encoder(12, 6, 5, encoder=encoder)
    tokens = np.array([[2, 3, 0, 0, 0, 0], [2, 4, 0, 0, 0, 0]], np.int32)
    vectors = model(tokens).numpy()
    assert vectors.shape == (2, 5)
    assert not np.allclose(vectors[0], vectors[1])  # another word, another vector
    # The padding is masked out: whatever the padding token's embedding, the vectors stay.
    embedding = model.get_layer("word_embedding").embeddings
    embedding.assign(np.concatenate([np.full((1, embedding.shape[1]), 7.0, np.float32), embedding.numpy()[1:]]))
    np.testing.assert_allclose(model(tokens).numpy(), vectors, rtol=1e-5, atol=1e-6)


def test_bad_builder_arguments():
    with pytest.raises(ValueError, match="mode='gan'"):
        conditional_discriminator(SHAPE, LABELS, "gan")
    with pytest.raises(ValueError, match="acgan.*LabelInput"):
        conditional_discriminator(SHAPE, CAPTIONS, "acgan")
    with pytest.raises(ValueError, match="architecture='resnet'"):
        conditional_generator(3, SHAPE, LABELS, "resnet")
    with pytest.raises(ValueError, match="num_classes=1"):
        LabelInput(1)
    with pytest.raises(ValueError, match="encoder='lstm'"):
        text_encoder(12, 6, 5, encoder="lstm")
