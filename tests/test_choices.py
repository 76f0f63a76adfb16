"""Each list of choices is declared once (gan_tf.choices) and used by the module that implements it."""
from gan_tf import choices, conditioning, distribute, losses
from gan_tf.data import registry
from gan_tf.networks import conditional, text


def test_owners_use_the_one_declaration():
    assert losses.NAMES is choices.LOSSES
    assert set(losses.NAMES) == set(losses._PAIRS)  # every declared loss has its pair
    assert distribute.STRATEGIES is choices.STRATEGIES
    assert distribute.PRECISIONS is choices.PRECISIONS and distribute.JIT_CHOICES is choices.JIT_CHOICES
    assert conditional.MODES is choices.CONDITIONING_MODES
    assert conditional.ARCHITECTURES is choices.CONDITIONAL_ARCHITECTURES
    assert conditioning.ClassConditioning.MODES is choices.CONDITIONING_MODES
    assert conditioning.TextConditioning.MODES is choices.TEXT_CONDITIONING_MODES
    assert text.ENCODERS is choices.TEXT_ENCODERS
    assert registry.DATASETS == choices.DATASETS
    for name in choices.DATASETS:
        assert registry.sources(name) == choices.data_sources(name)
