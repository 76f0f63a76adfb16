"""`gan_tf.cpu`: TF_ENABLE_ONEDNN_OPTS from CPU flags (the user's value first), and what
`--mixed_precision=auto` computes in."""
import pytest

from gan_tf import cpu

AMD_EPYC_AVX2 = {"sse4_2", "avx", "avx2", "fma", "f16c"}  # the AMD machines of experiments/benchmarks
INTEL_AMX = AMD_EPYC_AVX2 | {"avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16"}


@pytest.mark.parametrize("environ, flags, has_gpu, expected", [
    ({}, AMD_EPYC_AVX2, False, "1"),  # TensorFlow leaves it off here; measured 1.5x faster on
    ({}, INTEL_AMX, False, None),  # TensorFlow turns it on by itself
    ({}, {"sse4_2", "avx"}, False, None),  # not the kind of CPU it was measured on
    ({}, set(), False, None),  # flags unknown (e.g. not x86)
    ({}, AMD_EPYC_AVX2, True, None),  # beside a GPU: TensorFlow's default
    ({"TF_ENABLE_ONEDNN_OPTS": "0"}, AMD_EPYC_AVX2, False, None),  # the user's value wins
])
def test_choose_onednn(environ, flags, has_gpu, expected):
    value, reason = cpu.choose_onednn(environ, flags, has_gpu)
    assert value == expected and reason


@pytest.fixture
def avx2_machine(monkeypatch):
    """This process as if on the AVX2 EPYC, where gan_tf turns oneDNN on, with nothing applied yet."""
    monkeypatch.setattr(cpu, "cpu_flags", lambda: AMD_EPYC_AVX2)
    monkeypatch.setattr(cpu, "_has_gpu", lambda: False)
    monkeypatch.setattr(cpu, "_applied", None)


def test_apply_sets_the_variable_only_where_the_user_did_not(avx2_machine):
    environ = {}
    record = cpu.apply_onednn_choice(environ, tensorflow_imported=False)
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": "1"}
    assert record["TF_ENABLE_ONEDNN_OPTS"] == "1" and record["chosen_by"] == "gan_tf"
    again = cpu.apply_onednn_choice(environ, tensorflow_imported=True)  # a notebook cell run twice
    assert again == record  # still gan_tf's choice, not mistaken for the user's
    environ = {"TF_ENABLE_ONEDNN_OPTS": "0"}
    record = cpu.apply_onednn_choice(environ, tensorflow_imported=False)
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": "0"} and record["chosen_by"] == "user"


def test_apply_after_tensorflow_is_imported_sets_nothing_and_says_it_came_too_late(avx2_machine):
    environ = {}
    record = cpu.apply_onednn_choice(environ, tensorflow_imported=True)
    assert environ == {}  # TensorFlow has read the variable already: setting it would only mislead the record
    assert record["TF_ENABLE_ONEDNN_OPTS"] is None and record["chosen_by"] == "tensorflow"
    assert record["reason"].startswith("too late to set TF_ENABLE_ONEDNN_OPTS=1: TensorFlow was imported first")


ZEN5 = AMD_EPYC_AVX2 | {"avx512f", "avx512_vnni", "avx512_bf16"}  # AMD EPYC with AVX-512 BF16, no AMX


@pytest.mark.parametrize("flags, has_gpu, policy, names", [
    (INTEL_AMX, False, "mixed_bfloat16", "avx512_bf16, amx_bf16"),  # native bfloat16: measured to pay
    (ZEN5, False, "mixed_bfloat16", "(avx512_bf16)"),
    (AMD_EPYC_AVX2, False, "none", "no native bfloat16"),  # emulated: far slower
    (set(), False, "none", "no native bfloat16"),
    (INTEL_AMX, True, "none", "GPU"),  # mixed precision on a GPU is not measured
])
def test_auto_precision_is_bfloat16_only_on_cpus_that_compute_it_natively(flags, has_gpu, policy, names):
    chosen, reason = cpu.choose_precision(flags, has_gpu)
    assert chosen == policy
    assert reason.startswith("auto: ") and names in reason
