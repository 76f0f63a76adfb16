"""throughput.count_flops: 2 FLOPs per multiply-accumulate of the ops that run, through conditionals
whose branches hold no counted op (DiffAugment skipped while ADA's p is 0)."""
import pytest
import tensorflow as tf


def _trace(body):
    return tf.function(body).get_concrete_function(tf.TensorSpec([4, 3]), tf.TensorSpec([3, 5]),
                                                   tf.TensorSpec([]))


def test_an_elementwise_conditional_adds_nothing_and_the_matmul_counts(benchmarks):
    throughput = benchmarks.load("throughput")

    def step(a, b, p):
        a = tf.cond(p > 0, lambda: a * 2.0 + 1.0, lambda: tf.identity(a))
        return tf.matmul(a, b)

    assert throughput.count_flops(_trace(step)) == {"MatMul": 2 * 4 * 3 * 5}


def test_a_conditional_with_a_matmul_inside_is_refused(benchmarks):
    throughput = benchmarks.load("throughput")

    def step(a, b, p):
        return tf.cond(p > 0, lambda: tf.matmul(a, b), lambda: tf.zeros([4, 5]))

    with pytest.raises(ValueError, match="nested function ops are not counted"):
        throughput.count_flops(_trace(step))
