"""`gan_tf.cpu.choose_onednn`: TF_ENABLE_ONEDNN_OPTS from CPU flags, the user's value first."""
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


def test_apply_sets_the_variable_only_where_the_user_did_not(monkeypatch):
    monkeypatch.setattr(cpu, "cpu_flags", lambda: AMD_EPYC_AVX2)
    monkeypatch.setattr(cpu, "_has_gpu", lambda: False)
    monkeypatch.setattr(cpu, "_applied", None)
    environ = {}
    record = cpu.apply_onednn_choice(environ)
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": "1"}
    assert record["TF_ENABLE_ONEDNN_OPTS"] == "1" and record["chosen_by"] == "gan_tf"
    environ = {"TF_ENABLE_ONEDNN_OPTS": "0"}
    record = cpu.apply_onednn_choice(environ)
    assert environ == {"TF_ENABLE_ONEDNN_OPTS": "0"} and record["chosen_by"] == "user"


@pytest.mark.parametrize("mixed_precision, flags, has_gpu, starts", [
    ("mixed_bfloat16", set(), False, "--mixed_precision=mixed_bfloat16 was given"),
    ("none", {"avx2", "amx_bf16"}, False, "float32, the default: this CPU has native bfloat16"),
    ("none", {"avx2", "fma"}, False, "float32, the default: no native bfloat16"),
    ("none", {"avx2", "amx_bf16"}, True, "float32, the default: on a GPU"),
])
def test_precision_reason_names_the_choice_and_the_cpu(mixed_precision, flags, has_gpu, starts):
    assert cpu.precision_reason(mixed_precision, flags, has_gpu).startswith(starts)
