"""Smoke test of experiments/benchmarks/profile_step.py: op kinds, and the fields of one tiny run."""
import json

import pytest

@pytest.mark.parametrize("op_type, name, kind", [
    ("_MklNativeFusedConv2D", "StatefulPartitionedCall/discriminator_1/down0_1/convolution", "conv forward"),
    # The forward pass of a Conv2DTranspose is a Conv2DBackpropInput outside the tape.
    ("_MklNativeConv2DBackpropInput", "StatefulPartitionedCall/generator_1/up1_1/conv_transpose", "conv forward"),
    ("_MklNativeConv2D", "StatefulPartitionedCall/gradient_tape/generator_1/up1_1/conv_transpose/Conv2D",
     "conv backward"),
    ("Conv2DBackpropFilter", "StatefulPartitionedCall/gradient_tape/discriminator_1/down0_1/Conv2DBackpropFilter",
     "conv backward"),
    ("Mul", "StatefulPartitionedCall/generator_1/up0_bn_1/moments/mul", "BatchNorm"),
    ("Mul", "StatefulPartitionedCall/d_adam/Mul_3", "optimizer (Adam)"),
    ("LeakyReluGrad", "StatefulPartitionedCall/gradient_tape/generator_1/up0_lrelu_1/LeakyReluGrad", "LeakyReLU"),
    ("SelectV2", "StatefulPartitionedCall/discriminator_1/down0_dropout_1/SelectV2", "Dropout"),
    ("_MklMatMul", "StatefulPartitionedCall/generator_1/project_1/MatMul", "dense forward"),
    ("Tanh", "StatefulPartitionedCall/generator_1/tanh_1/Tanh", "other"),
    ("Pad", "StatefulPartitionedCall/diff_augment/Pad", "augmentation (DiffAugment/ADA)"),
    ("Slice", "StatefulPartitionedCall/gradient_tape/diff_augment_1/Slice", "augmentation (DiffAugment/ADA)"),
    # The random draws of the augmentation are its own, not Dropout's.
    ("StatelessRandomUniformFullIntV2", "StatefulPartitionedCall/diff_augment/StatelessRandomUniformFullIntV2",
     "augmentation (DiffAugment/ADA)"),
    ("AssignVariableOp", "StatefulPartitionedCall/ema_update/AssignVariableOp_3", "EMA generator update"),
])
def test_op_kind(op_type, name, kind, benchmarks):
    assert benchmarks.load("profile_step").op_kind(op_type, name) == kind


@pytest.mark.slow
def test_one_tiny_profile_records_every_field(tmp_path, benchmarks):
    import gan_tf

    benchmarks.run("profile_step.py", "--steps", "1", "--blocks", "1", "--pipeline_batches", "2",
                   "--out_dir", str(tmp_path))
    (json_path,) = tmp_path.glob("profile_step_*.json")
    assert json_path.with_suffix(".md").exists()
    result = json.loads(json_path.read_text())["result"]
    assert result["batch_size"] == 64 and result["steps"] == 1
    assert result["versions"]["gan_tf"] == gan_tf.__version__  # the record says what it profiled
    kinds = {k["kind"]: k for k in result["kinds"]}
    # The default recipe augments the discriminator's inputs and keeps an EMA generator: their scopes
    # (GAN._augment, GAN._update_ema) must reach the profiler's op names.
    for kind in ("conv forward", "conv backward", "BatchNorm", "optimizer (Adam)", "augmentation (DiffAugment/ADA)",
                 "EMA generator update"):
        assert kinds[kind]["ms_per_step"] > 0, kind
    assert sum(k["ms_per_step"] for k in result["kinds"]) == pytest.approx(result["op_self_ms_per_step"])
    assert sum(k["share"] for k in result["kinds"]) == pytest.approx(1.0)
    assert result["fit_overhead_ms_per_step"] == pytest.approx(result["fit_ms_per_step"] - result["bare_step_ms"])
    assert result["pipeline"]["images_per_second"] > 0
