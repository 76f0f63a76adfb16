"""Words to token ids: the vocabulary of the training captions and the checks on prompts.

Token ids are those of a Keras `TextVectorization` layer built on a fixed vocabulary:
0 is padding, 1 is the out-of-vocabulary token, words follow from 2. The layer turns
every unknown word into 1 without a word of warning, so prompts are checked first and
an unknown word, an empty prompt or one longer than the encoder reads is refused with a
message that names it.
"""
import collections

from gan_tf.text.captions import STRIP_PATTERN, standardize

PADDING, OUT_OF_VOCABULARY = 0, 1

# Words the encoder reads per caption: the longest caption has 9; prompts may be a little longer.
SEQUENCE_LENGTH = 12


# Messages quote at most this many characters of a prompt, and name at most this many unknown words:
# a prompt of 9,000 words is not echoed back whole.
SHOWN_CHARACTERS = 80
SHOWN_WORDS = 10


class PromptError(ValueError):
    """A prompt the text encoder cannot read: empty, too long, or with unknown words."""


def shown(prompt):
    """`prompt` quoted for a message: whole when short, else its beginning and its length."""
    if not isinstance(prompt, str) or len(prompt) <= SHOWN_CHARACTERS:
        return repr(prompt)
    return f"{prompt[:SHOWN_CHARACTERS]!r}... ({len(prompt):,} characters)"


class Vocabulary:
    """The words a text encoder knows and the length of the token sequences it reads.

    Args:
      words: the known words, in token-id order (ids start at 2).
      sequence_length: token ids per caption; shorter captions are padded with 0.

    Example:
      >>> vocabulary = Vocabulary.from_captions(["a handwritten seven", "the digit 7"])
      >>> vocabulary.encode(["a handwritten 7"])   # int32 [1, sequence_length]
    """

    def __init__(self, words, sequence_length):
        words = tuple(words)
        if len(set(words)) != len(words) or not all(w and standardize(w) == [w] for w in words):
            raise ValueError(f"words={words!r}: expected distinct, standardized single words.")
        if int(sequence_length) < 1:
            raise ValueError(f"sequence_length={sequence_length!r}: expected a positive integer.")
        self.words = words
        self.sequence_length = int(sequence_length)
        self._known = set(words)
        self._layer = None

    @classmethod
    def from_captions(cls, captions, sequence_length=None):
        """The vocabulary of `captions`: most frequent words first (ties alphabetical).

        Args:
          captions: an iterable of caption strings.
          sequence_length: default: the number of words of the longest caption.
        """
        tokenized = [standardize(c) for c in captions]
        counts = collections.Counter(word for words in tokenized for word in words)
        words = sorted(counts, key=lambda w: (-counts[w], w))
        longest = max((len(words) for words in tokenized), default=0)
        if sequence_length is None:
            sequence_length = longest
        elif longest > sequence_length:
            raise ValueError(f"A caption has {longest} words, more than sequence_length={sequence_length}.")
        return cls(words, sequence_length)

    @property
    def size(self):
        """Number of token ids, padding and out-of-vocabulary included."""
        return len(self.words) + 2

    def to_dict(self):
        return {"words": list(self.words), "sequence_length": self.sequence_length}

    @classmethod
    def from_dict(cls, record):
        return cls(record["words"], record["sequence_length"])

    def check(self, prompt):
        """Raises `PromptError` unless every word of `prompt` is known and it fits; returns its words."""
        if not isinstance(prompt, str):
            raise PromptError(f"prompt={shown(prompt)}: expected a string.")
        words = standardize(prompt)
        if not words:
            raise PromptError(
                f"prompt={shown(prompt)} is empty (no letters or digits): expected a description such as "
                "'a handwritten seven'."
            )
        unknown = list(dict.fromkeys(w for w in words if w not in self._known))
        if unknown:
            listed = ", ".join(repr(w[:SHOWN_CHARACTERS]) for w in unknown[:SHOWN_WORDS])
            if len(unknown) > SHOWN_WORDS:
                listed += f" and {len(unknown) - SHOWN_WORDS:,} more"
            raise PromptError(
                f"prompt={shown(prompt)}: unknown word{'s' if len(unknown) > 1 else ''} "
                f"{listed}; the text encoder only knows the "
                f"{len(self.words)} words of its training captions: {', '.join(sorted(self.words))}."
            )
        if len(words) > self.sequence_length:
            raise PromptError(
                f"prompt={shown(prompt)} has {len(words):,} words: expected at most {self.sequence_length}, "
                "the longest caption the text encoder reads."
            )
        return words

    def layer(self):
        """The `keras.layers.TextVectorization` of this vocabulary (strings -> int token ids)."""
        if self._layer is None:
            import keras
            import tensorflow as tf

            def _standardize(text):
                return tf.strings.regex_replace(tf.strings.lower(text), STRIP_PATTERN, "")

            self._layer = keras.layers.TextVectorization(
                standardize=_standardize,
                split="whitespace",
                output_mode="int",
                output_sequence_length=self.sequence_length,
                vocabulary=list(self.words),
                name="text_vectorization",
            )
        return self._layer

    def encode(self, prompts):
        """int32 numpy token ids [n, sequence_length] of checked prompts (a string or a list)."""
        import numpy as np

        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts:
            raise PromptError("prompts=[]: expected at least one prompt.")
        for prompt in prompts:
            self.check(prompt)
        return np.asarray(self.layer()(prompts), np.int32)


def caption_vocabulary(captions, sequence_length=SEQUENCE_LENGTH):
    """The `Vocabulary` of a `CaptionSet`'s training captions (held-out ones add no words)."""
    return Vocabulary.from_captions((c for per_class in captions.train for c in per_class), sequence_length)
