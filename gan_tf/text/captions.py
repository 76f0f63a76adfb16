"""Captions made from class labels: many phrasings per class, some held out of training.

Text-to-image needs (image, description) pairs, and MNIST and Fashion-MNIST only have
labels; so each label is described by filling class words into phrasing templates
("a handwritten {word}", "the digit {numeral}", "a photo of {article} {noun}" ...).
Style words such as "thick" or "sloppy" say nothing the labels know about: the text
encoder has to learn to look past them to the class.

Held-out phrasings are templates never used in training, built only from words that
training captions do use (`held_out` captions of MNIST put numerals where training
only had words, and the other way round). They measure whether the encoder reads the
class word or memorised whole captions. A word that no training caption contains
cannot be understood by an encoder trained from scratch; prompts with such words are
refused with the list of known words (see `gan_tf.text.vocabulary`).
"""
import dataclasses
import re

# Standardisation shared by the vocabulary, the prompt checks and the TF layer:
# lower case, then drop everything but ASCII letters, digits and whitespace.
STRIP_PATTERN = r"[^a-z0-9\s]"


def standardize(text):
    """The words of `text` as the encoder sees them: lower case, no punctuation."""
    return re.sub(STRIP_PATTERN, "", str(text).lower()).split()


def _article(phrase):
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


_DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

# {word}: "seven", {a_word}: "a seven" / "an eight", {numeral}: "7".
_MNIST_TRAIN = (
    "a handwritten {word}",
    "the digit {numeral}",
    "number {word}, written thick",
    "the digit {word}",
    "number {numeral}",
    "{a_word}",
    "a thin {word}",
    "a thick handwritten {word}",
    "a sloppy {word}",
    "the number {word}, written neatly",
    "a picture of the digit {numeral}",
    "{numeral}, written by hand",
    "an image of {a_word}",
)
_MNIST_HELD_OUT = (
    "a handwritten {numeral}",  # numeral where training has only the word
    "{word}",
    "the number {numeral}, written thick",
    "a picture of {a_word}",
    "{word}, written by hand",
)

_FASHION_NOUNS = (  # per class: phrasings of the item; the first one is the class name
    ("t-shirt", "top", "tee"),
    ("pair of trousers", "pair of pants"),
    ("pullover", "sweater", "jumper"),
    ("dress", "summer dress"),
    ("coat", "jacket"),
    ("sandal", "summer sandal"),
    ("shirt", "button shirt"),
    ("sneaker", "running shoe"),
    ("bag", "handbag"),
    ("ankle boot", "boot"),
)
# {noun}: "sneaker", {a_noun}: "a sneaker" / "an ankle boot".
_FASHION_TRAIN = (
    "a photo of {a_noun}",
    "{a_noun}",
    "a picture of {a_noun}",
    "a grayscale photo of {a_noun}",
    "a product photo of {a_noun}",
    "{noun}",
    "this is {a_noun}",
    "a small photo of {a_noun}",
)
_FASHION_HELD_OUT = (
    "a grayscale picture of {a_noun}",
    "this is a photo of {a_noun}",
    "a small product photo of {a_noun}",
)


@dataclasses.dataclass(frozen=True)
class CaptionSet:
    """The captions of one data set, per class.

    Attributes:
      dataset: data set name.
      class_names: one name per label.
      train: per class, the captions used in training (tuples of str).
      held_out: per class, captions of phrasings never used in training.
    """

    dataset: str
    class_names: tuple
    train: tuple
    held_out: tuple

    @property
    def num_classes(self):
        return len(self.class_names)

    def to_dict(self):
        return {
            "dataset": self.dataset,
            "class_names": list(self.class_names),
            "train": [list(c) for c in self.train],
            "held_out": [list(c) for c in self.held_out],
        }

    @classmethod
    def from_dict(cls, record):
        return cls(
            dataset=record["dataset"],
            class_names=tuple(record["class_names"]),
            train=tuple(tuple(c) for c in record["train"]),
            held_out=tuple(tuple(c) for c in record["held_out"]),
        )


def _unique(captions):
    return tuple(dict.fromkeys(captions))


def _mnist():
    def fill(templates, label):
        word = _DIGIT_WORDS[label]
        values = dict(word=word, a_word=_article(word), numeral=str(label))
        return _unique(t.format(**values) for t in templates)

    return CaptionSet(
        dataset="mnist",
        class_names=_DIGIT_WORDS,
        train=tuple(fill(_MNIST_TRAIN, label) for label in range(10)),
        held_out=tuple(fill(_MNIST_HELD_OUT, label) for label in range(10)),
    )


def _fashion_mnist():
    def fill(templates, label):
        return _unique(
            t.format(noun=noun, a_noun=_article(noun)) for t in templates for noun in _FASHION_NOUNS[label]
        )

    return CaptionSet(
        dataset="fashion_mnist",
        class_names=tuple(nouns[0] for nouns in _FASHION_NOUNS),
        train=tuple(fill(_FASHION_TRAIN, label) for label in range(10)),
        held_out=tuple(fill(_FASHION_HELD_OUT, label) for label in range(10)),
    )


_CAPTION_SETS = {"mnist": _mnist, "fashion_mnist": _fashion_mnist}
DATASETS = tuple(_CAPTION_SETS)


def caption_set(dataset):
    """The `CaptionSet` of a data set with labels ("mnist" or "fashion_mnist")."""
    if dataset not in _CAPTION_SETS:
        raise ValueError(
            f"No captions for dataset {dataset!r}: text-to-image needs class labels; expected one of "
            f"{', '.join(DATASETS)}."
        )
    return _CAPTION_SETS[dataset]()
