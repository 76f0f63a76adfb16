"""GAN: the one training abstraction, a `keras.Model` with a custom `train_step`."""
import keras
import tensorflow as tf

from gan_tf import losses as gan_losses

# Logged every step; penalties add their own keys when enabled.
_LOG_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


class GAN(keras.Model):
    """A generator and a discriminator trained with alternating updates.

    Args:
      generator: `keras.Model` mapping [batch, latent_dim] noise to images in [-1, 1].
      discriminator: `keras.Model` mapping images to [batch, 1] logits (critic values).
      latent_dim: size of the noise vector.
      seed: integer seed of the noise stream (None: a random one).

    Example:
      >>> gan = GAN(dcgan_generator(100), dcgan_discriminator(), latent_dim=100, seed=0)
      >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
      ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
      >>> gan.fit(images.batch(64), epochs=1)   # images in [-1, 1]
      >>> samples = gan.generate(16, seed=1)
    """

    def __init__(self, generator, discriminator, latent_dim, seed=None, name="gan", **kwargs):
        super().__init__(name=name, **kwargs)
        latent_dim = int(latent_dim)
        if latent_dim <= 0:
            raise ValueError(f"latent_dim={latent_dim}: expected a positive integer.")
        if generator.input_shape[-1] != latent_dim:
            raise ValueError(
                f"generator {generator.name!r} takes inputs of shape {generator.input_shape}, "
                f"but latent_dim={latent_dim}."
            )
        if tuple(generator.output_shape[1:]) != tuple(discriminator.input_shape[1:]):
            raise ValueError(
                f"generator output shape {generator.output_shape[1:]} does not match "
                f"discriminator input shape {discriminator.input_shape[1:]}."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed, name="noise_seed")
        self.trackers = {}
        # Both sub-models are built functional models. Without this, fit() under any
        # tf.distribute strategy calls self.call on a symbolic batch and fails.
        self.built = True

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        d_optimizer,
        g_optimizer,
        loss="non_saturating",
        d_steps=1,
        gradient_penalty_weight=0.0,
        r1_gamma=0.0,
        weight_clip=None,
        **kwargs,
    ):
        """Injects the optimizers, the loss pair and the regularisers.

        Args:
          d_optimizer, g_optimizer: two distinct `keras.optimizers.Optimizer`s.
          loss: a name in `gan_tf.losses.NAMES` or a loss-pair object.
          d_steps: discriminator updates per generator update (5 for WGAN).
          gradient_penalty_weight: λ of WGAN-GP (Gulrajani et al. 2017; 10 there), 0 = off.
          r1_gamma: γ of the R1 penalty γ/2·‖∇D(x)‖² (Mescheder et al. 2018), 0 = off.
          weight_clip: clip the discriminator's weights to [-c, c] after each update
            (the original WGAN, Arjovsky et al. 2017; 0.01 there); None = off.
          **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`, `steps_per_execution`).
        """
        if d_optimizer is g_optimizer:
            raise ValueError("d_optimizer and g_optimizer must be two distinct optimizer objects.")
        for key, value in (("d_optimizer", d_optimizer), ("g_optimizer", g_optimizer)):
            if not isinstance(value, keras.optimizers.Optimizer):
                raise ValueError(f"{key}={value!r}: expected a keras.optimizers.Optimizer.")
        if int(d_steps) != d_steps or d_steps < 1:
            raise ValueError(f"d_steps={d_steps!r}: expected an integer >= 1.")
        for key, value in (("gradient_penalty_weight", gradient_penalty_weight), ("r1_gamma", r1_gamma)):
            if value < 0:
                raise ValueError(f"{key}={value!r}: expected a weight >= 0.")
        if weight_clip is not None and weight_clip <= 0:
            raise ValueError(f"weight_clip={weight_clip!r}: expected a positive bound or None.")
        self.loss_pair = gan_losses.get(loss)
        self.d_steps = int(d_steps)
        self.gradient_penalty_weight = float(gradient_penalty_weight)
        self.r1_gamma = float(r1_gamma)
        self.weight_clip = weight_clip

        if keras.mixed_precision.global_policy().name == "mixed_float16":
            # float16 gradients underflow without loss scaling, for each optimizer.
            d_optimizer = _loss_scaled(d_optimizer)
            g_optimizer = _loss_scaled(g_optimizer)
        # The generator's optimizer doubles as `self.optimizer`: with the default one Keras
        # would create an unused RMSprop, and with None TensorBoard's steps/s logging fails.
        super().compile(optimizer=g_optimizer, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        # Build the slots now, outside the traced step: lazily created slots break
        # MirroredStrategy and XLA, and an unbuilt optimizer is skipped on restore.
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

        keys = list(_LOG_KEYS)
        if self.gradient_penalty_weight:
            keys.append("gradient_penalty")
        if self.r1_gamma:
            keys.append("r1_penalty")
        self.trackers = {key: keras.metrics.Mean(name=key) for key in keys}

    @property
    def metrics(self):
        # Listed here so that Keras resets them at each epoch start.
        return list(self.trackers.values())

    # --------------------------------------------------------------- training
    def _replica_slice(self, sample, batch_size, shape):
        """This replica's rows of one draw made for the whole global batch.

        Every replica draws the global batch's values from the same seed and keeps its
        own slice, so replicas get distinct values, and N replicas see exactly the values
        one device would: training does not depend on the replica count.
        """
        context = tf.distribute.get_replica_context()
        replicas = 1 if context is None else context.num_replicas_in_sync
        replica_id = 0 if context is None else context.replica_id_in_sync_group
        seed = tf.cast(self.noise_seed.next(), tf.int64)
        values = sample((batch_size * replicas, *shape), seed=seed)
        return values[replica_id * batch_size : (replica_id + 1) * batch_size]

    def _noise(self, batch_size):
        """[batch, latent_dim] normal noise, distinct on every replica."""
        return self._replica_slice(tf.random.stateless_normal, batch_size, (self.latent_dim,))

    def _discriminator_update(self, real_images, fake_images):
        """One discriminator step; returns its local logs (per-replica means)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        logs = {}
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(real_images, training=True)
            fake_logits = self.discriminator(fake_images, training=True)
            d_loss = tf.reduce_mean(self.loss_pair.discriminator_loss(real_logits, fake_logits))
            total = d_loss
            if self.gradient_penalty_weight:
                epsilon = self._replica_slice(
                    tf.random.stateless_uniform, tf.shape(real_images)[0], ()
                )
                critic = lambda x: self.discriminator(x, training=True)  # noqa: E731
                penalty = tf.reduce_mean(
                    gan_losses.gradient_penalty(critic, real_images, fake_images, epsilon)
                )
                total += self.gradient_penalty_weight * penalty
                logs["gradient_penalty"] = penalty
            if self.r1_gamma:
                critic = lambda x: self.discriminator(x, training=True)  # noqa: E731
                penalty = tf.reduce_mean(gan_losses.r1_penalty(critic, real_images))
                total += 0.5 * self.r1_gamma * penalty
                logs["r1_penalty"] = penalty
            # A local mean divided by the replica count is the replica's share of the
            # global-batch mean; apply_gradients sums the shares across replicas.
            scaled = self.d_optimizer.scale_loss(total / replicas)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        if self.weight_clip is not None:
            for variable in variables:
                variable.assign(tf.clip_by_value(variable, -self.weight_clip, self.weight_clip))
        logs.update(
            d_loss=d_loss,
            d_real=tf.reduce_mean(tf.cast(real_logits, tf.float32)),
            d_fake=tf.reduce_mean(tf.cast(fake_logits, tf.float32)),
        )
        return logs

    def train_step(self, data):
        real_images = data[0] if isinstance(data, (tuple, list)) else data
        batch_size = tf.shape(real_images)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        # Extra critic steps (WGAN): the generator is not updated between them.
        for _ in range(self.d_steps - 1):
            fake_images = self.generator(self._noise(batch_size), training=True)
            self._discriminator_update(real_images, fake_images)

        with tf.GradientTape() as g_tape:
            # Generated once and reused for both updates: the generator does not change
            # during the discriminator step, so a second forward pass would be waste.
            fake_images = self.generator(self._noise(batch_size), training=True)

            # --- discriminator update (not part of the generator's gradient) ---
            with g_tape.stop_recording():
                logs = self._discriminator_update(real_images, fake_images)

            # --- generator update, against the *updated* discriminator ---
            fake_logits = self.discriminator(fake_images, training=True)
            g_loss = tf.reduce_mean(self.loss_pair.generator_loss(fake_logits))
            scaled = self.g_optimizer.scale_loss(g_loss / replicas)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(scaled, variables), variables))
        logs["g_loss"] = g_loss

        for key, value in logs.items():
            self.trackers[key].update_state(value)
        # Shape [1], not rank 0: MultiWorkerMirroredStrategy cannot reduce rank-0 logs
        # (tensorflow#72388). Each replica reports its local mean; Keras averages them.
        return {key: tf.reshape(value, [1]) for key, value in logs.items()}

    # --------------------------------------------------------------- sampling
    def call(self, noise, training=False):
        return self.generator(noise, training=training)

    def generate(self, n, seed=None, batch_size=None):
        """Returns `n` float32 images in [-1, 1], in inference mode.

        Args:
          n: number of images.
          seed: integer seed; the same seed gives the same images. None draws fresh
            noise from the model's own stream.
          batch_size: generate in chunks of this size to bound memory (default: all at once).
        """
        n = int(n)
        if n <= 0:
            raise ValueError(f"n={n}: expected a positive number of images.")
        if seed is None:
            noise = tf.random.stateless_normal(
                (n, self.latent_dim), seed=tf.cast(self.noise_seed.next(), tf.int64)
            )
        else:
            noise = tf.random.stateless_normal((n, self.latent_dim), seed=[int(seed), 0])
        chunk = n if batch_size is None else int(batch_size)
        images = [
            self.generator(noise[i : i + chunk], training=False) for i in range(0, n, chunk)
        ]
        return tf.cast(tf.concat(images, axis=0), tf.float32)

    def get_config(self):
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
