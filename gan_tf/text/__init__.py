"""Text for text-to-image GANs: captions made from class labels, and their vocabulary.

    from gan_tf import text
    captions = text.caption_set("mnist")         # train / held-out phrasings per class
    vocabulary = text.caption_vocabulary(captions)   # the words of the training captions
    vocabulary.encode("a handwritten seven")      # int32 token ids, checked

The encoder network itself is `gan_tf.networks.text.text_encoder`.
"""
from gan_tf.text.captions import DATASETS, CaptionSet, caption_set, standardize
from gan_tf.text.vocabulary import SEQUENCE_LENGTH, PromptError, Vocabulary, caption_vocabulary

__all__ = [
    "DATASETS", "SEQUENCE_LENGTH", "CaptionSet", "PromptError", "Vocabulary", "caption_set",
    "caption_vocabulary", "standardize",
]
