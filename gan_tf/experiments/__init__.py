"""Runnable experiments: `python -m gan_tf.experiments.<name>`."""
