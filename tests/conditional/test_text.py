"""Captions, vocabulary and prompt checks."""
import numpy as np
import pytest

from gan_tf import text


@pytest.mark.parametrize("dataset", text.DATASETS)
def test_every_class_has_many_phrasings_and_held_out_ones_are_new(dataset):
    captions = text.caption_set(dataset)
    assert captions.num_classes == 10
    train = [c for per_class in captions.train for c in per_class]
    held_out = [c for per_class in captions.held_out for c in per_class]
    assert min(len(per_class) for per_class in captions.train) >= 8
    assert min(len(per_class) for per_class in captions.held_out) >= 3
    assert not set(train) & set(held_out)  # held-out phrasings never appear in training
    assert len(set(train)) == len(train)  # no caption describes two classes
    # Every held-out word is a training word: the held-out set tests phrasing, not vocabulary.
    vocabulary = text.caption_vocabulary(captions)
    for caption in held_out:
        assert vocabulary.check(caption)


def test_mnist_held_out_phrasings_put_numerals_where_training_had_words():
    captions = text.caption_set("mnist")
    assert "a handwritten seven" in captions.train[7]
    assert "a handwritten 7" in captions.held_out[7]
    assert "a handwritten 7" not in captions.train[7]
    assert "an eight" in captions.train[8]  # the article agrees


def test_standardize_and_the_layer_agree_on_every_caption():
    captions = text.caption_set("fashion_mnist")
    vocabulary = text.caption_vocabulary(captions)
    all_captions = [c for per_class in captions.train + captions.held_out for c in per_class]
    ids = vocabulary.encode(all_captions)
    index = {word: i + 2 for i, word in enumerate(vocabulary.words)}
    for caption, row in zip(all_captions, ids):
        words = text.standardize(caption)
        expected = [index[w] for w in words] + [0] * (vocabulary.sequence_length - len(words))
        np.testing.assert_array_equal(row, expected)
    assert text.standardize("A T-shirt!") == ["a", "tshirt"]


@pytest.mark.parametrize("prompt, message", [
    ("", "is empty"),
    ("   ?! ", "is empty"),
    ("a handwritten zebra", "unknown word 'zebra'"),
    ("a zebra and a giraffe", "unknown words 'zebra', 'and', 'giraffe'"),
    ("a " * 13, "has 13 words: expected at most 12"),
    (7, "expected a string"),
])
def test_bad_prompts_are_refused_with_the_reason(prompt, message):
    vocabulary = text.caption_vocabulary(text.caption_set("mnist"))
    with pytest.raises(text.PromptError, match=message):
        vocabulary.encode([prompt])


def test_unknown_word_message_lists_the_known_words():
    vocabulary = text.caption_vocabulary(text.caption_set("mnist"))
    with pytest.raises(text.PromptError) as error:
        vocabulary.check("a handwritten sevn")
    assert "'sevn'" in str(error.value) and "seven" in str(error.value) and "handwritten" in str(error.value)


def test_vocabulary_round_trips_through_a_dict():
    vocabulary = text.caption_vocabulary(text.caption_set("mnist"))
    again = text.Vocabulary.from_dict(vocabulary.to_dict())
    np.testing.assert_array_equal(again.encode("the digit 7"), vocabulary.encode("the digit 7"))
    captions = text.caption_set("mnist")
    assert text.CaptionSet.from_dict(captions.to_dict()) == captions


def test_no_captions_for_unlabelled_data():
    with pytest.raises(ValueError, match="'celeba'.*expected one of mnist, fashion_mnist"):
        text.caption_set("celeba")
