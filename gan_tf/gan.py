"""GAN: the one training abstraction, a `keras.Model` with a custom `train_step`."""
import keras
import numpy as np
import tensorflow as tf

from gan_tf import losses as gan_losses
from gan_tf.conditioning import LabelError
from gan_tf.networks.layers import stateless_normal, stateless_uniform

# Logged every step; penalties add their own keys when enabled.
_LOG_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


class GAN(keras.Model):
    """A generator and a discriminator trained with alternating updates.

    Args:
      generator: `keras.Model` mapping [batch, latent_dim] noise to images in [-1, 1].
      discriminator: `keras.Model` mapping images to [batch, 1] logits (critic values).
      latent_dim: size of the noise vector.
      seed: integer seed of the noise stream (None: a random one).
      conditioning: None for an unconditional GAN, or a `gan_tf.conditioning`
        object (`ClassConditioning`, `TextConditioning`); the GAN then trains on
        `(images, labels)` batches, its generator takes `[noise, condition]` and its
        discriminator `[images, condition]` (ACGAN: images, with a class head); see
        `gan_tf.networks.conditional` for matching networks.

    Example:
      >>> gan = GAN(dcgan_generator(100), dcgan_discriminator(), latent_dim=100, seed=0)
      >>> gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
      ...             g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
      >>> gan.fit(images.batch(64), epochs=1)   # images in [-1, 1]
      >>> samples = gan.generate(16, seed=1)

      A class-conditional GAN (projection discriminator):
      >>> conditioning = ClassConditioning(10, mode="projection")
      >>> gan = GAN(conditional_generator(100, (28, 28, 1), conditioning.network_input),
      ...           conditional_discriminator((28, 28, 1), conditioning.network_input, "projection"),
      ...           latent_dim=100, seed=0, conditioning=conditioning)
      >>> gan.fit(images_and_labels.batch(64), epochs=1)
      >>> sevens = gan.generate(16, labels=7, seed=1)
    """

    def __init__(self, generator, discriminator, latent_dim, seed=None, conditioning=None, name="gan", **kwargs):
        super().__init__(name=name, **kwargs)
        latent_dim = int(latent_dim)
        if latent_dim <= 0:
            raise ValueError(f"latent_dim={latent_dim}: expected a positive integer.")
        noise_shape, image_shape = _check_network_inputs(generator, discriminator, conditioning)
        if noise_shape[-1] != latent_dim:
            raise ValueError(
                f"generator {generator.name!r} takes inputs of shape {generator.input_shape}, "
                f"but latent_dim={latent_dim}."
            )
        if tuple(generator.output_shape[1:]) != tuple(image_shape[1:]):
            raise ValueError(
                f"generator output shape {generator.output_shape[1:]} does not match "
                f"discriminator input shape {image_shape[1:]}."
            )
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed = seed
        self.conditioning = conditioning
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
        if self.conditioning is not None:
            keys.extend(self.conditioning.log_keys)
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
        return self._replica_slice(stateless_normal, batch_size, (self.latent_dim,))

    def _uniform(self, batch_size):
        """[batch] U[0, 1) values, distinct on every replica (draws of captions)."""
        return self._replica_slice(stateless_uniform, batch_size, ())

    def _generate(self, noise, condition, training):
        if self.conditioning is None:
            return self.generator(noise, training=training)
        return self.generator([noise, condition], training=training)

    def _discriminate(self, images, condition, training=True):
        """(logits, class logits) of the discriminator; class logits are None but for ACGAN."""
        if self.conditioning is None:
            return self.discriminator(images, training=training), None
        if self.conditioning.discriminator_takes_condition:
            outputs = self.discriminator([images, condition], training=training)
        else:
            outputs = self.discriminator(images, training=training)
        if self.conditioning.auxiliary_classifier:
            return outputs[0], outputs[1]
        return outputs, None

    def _discriminator_update(self, real_images, fake_images, condition=None, labels=None):
        """One discriminator step; returns its local logs (per-replica means)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        conditioning = self.conditioning
        logs = {}
        with tf.GradientTape() as tape:
            real_logits, real_classes = self._discriminate(real_images, condition)
            fake_logits, fake_classes = self._discriminate(fake_images, condition)
            d_loss = self.loss_pair.discriminator_loss(real_logits, fake_logits)
            if conditioning is not None and conditioning.matching_aware:
                # GAN-CLS (Reed et al. 2016, alg. 1): a real image with a caption of another
                # class is fake too. Mixing the two pairs with w = ½ gives their L_D = real
                # term + ½ (fake term of the fake image + fake term of the mismatched pair).
                uniform = lambda: self._uniform(tf.shape(real_images)[0])  # noqa: E731
                wrong = conditioning.condition(conditioning.mismatched_labels(labels, uniform), uniform)
                wrong_logits, _ = self._discriminate(real_images, wrong)
                w = conditioning.mismatch_weight
                d_loss = (1.0 - w) * d_loss + w * self.loss_pair.discriminator_loss(real_logits, wrong_logits)
                logs["d_wrong"] = tf.reduce_mean(tf.cast(wrong_logits, tf.float32))
            d_loss = tf.reduce_mean(d_loss)
            total = d_loss
            if conditioning is not None and conditioning.auxiliary_classifier:
                # ACGAN (Odena et al. 2017): the discriminator also classifies real and fake images.
                class_loss = tf.reduce_mean(
                    gan_losses.auxiliary_classifier_loss(real_classes, labels)
                    + gan_losses.auxiliary_classifier_loss(fake_classes, labels)
                )
                total += conditioning.class_loss_weight * class_loss
                logs["d_class_loss"] = class_loss
            if self.gradient_penalty_weight:
                epsilon = self._replica_slice(stateless_uniform, tf.shape(real_images)[0], ())
                critic = lambda x: self._discriminate(x, condition)[0]  # noqa: E731
                penalty = tf.reduce_mean(
                    gan_losses.gradient_penalty(critic, real_images, fake_images, epsilon)
                )
                total += self.gradient_penalty_weight * penalty
                logs["gradient_penalty"] = penalty
            if self.r1_gamma:
                critic = lambda x: self._discriminate(x, condition)[0]  # noqa: E731
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
        if isinstance(data, (tuple, list)):  # (images, labels) from fit(x, y) or a labelled dataset
            real_images, labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            real_images, labels = data, None
        batch_size = tf.shape(real_images)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        condition = None
        if self.conditioning is not None:
            if labels is None:
                raise ValueError("A conditional GAN trains on (images, labels) batches; got images only.")
            # Fake images are made for the real batch's classes, so that both sides of the
            # discriminator's loss see the same classes (and, for text, the same captions).
            condition = self.conditioning.condition(labels, lambda: self._uniform(batch_size))

        # Extra critic steps (WGAN): the generator is not updated between them.
        for _ in range(self.d_steps - 1):
            fake_images = self._generate(self._noise(batch_size), condition, training=True)
            self._discriminator_update(real_images, fake_images, condition, labels)

        with tf.GradientTape() as g_tape:
            # Generated once and reused for both updates: the generator does not change
            # during the discriminator step, so a second forward pass would be waste.
            noise = self._noise(batch_size)
            fake_images = self._generate(noise, condition, training=True)

            # --- discriminator update (not part of the generator's gradient) ---
            with g_tape.stop_recording():
                logs = self._discriminator_update(real_images, fake_images, condition, labels)

            # --- generator update, against the *updated* discriminator ---
            fake_logits, fake_classes = self._discriminate(fake_images, condition)
            g_loss = tf.reduce_mean(self.loss_pair.generator_loss(fake_logits))
            total = g_loss
            if fake_classes is not None:
                # ACGAN: the generator also wants its images classified as the class asked for.
                g_class_loss = tf.reduce_mean(gan_losses.auxiliary_classifier_loss(fake_classes, labels))
                total += self.conditioning.class_loss_weight * g_class_loss
                logs["g_class_loss"] = g_class_loss
            if self.conditioning is not None and self.conditioning.mode_seeking_weight:
                # MSGAN (Mao et al. 2019): the same conditions with other noise must give
                # other images; costs one more generator pass, for this term only.
                other_noise = self._noise(batch_size)
                other_images = self._generate(other_noise, condition, training=True)
                seeking = tf.reduce_mean(gan_losses.mode_seeking_loss(fake_images, other_images, noise, other_noise))
                total += self.conditioning.mode_seeking_weight * seeking
                logs["mode_seeking_loss"] = seeking
            scaled = self.g_optimizer.scale_loss(total / replicas)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(scaled, variables), variables))
        logs["g_loss"] = g_loss

        for key, value in logs.items():
            self.trackers[key].update_state(value)
        # Shape [1], not rank 0: MultiWorkerMirroredStrategy cannot reduce rank-0 logs
        # (tensorflow#72388). Each replica reports its local mean; Keras averages them.
        return {key: tf.reshape(value, [1]) for key, value in logs.items()}

    # --------------------------------------------------------------- sampling
    def call(self, inputs, training=False):
        # inputs: noise, or [noise, condition] for a conditional GAN.
        return self.generator(inputs, training=training)

    def generate(self, n, seed=None, batch_size=None, labels=None, prompts=None):
        """Returns `n` float32 images in [-1, 1], in inference mode.

        Args:
          n: number of images.
          seed: integer seed; the same seed gives the same images. None draws fresh
            noise from the model's own stream.
          batch_size: generate in chunks of this size to bound memory (default: all at once).
          labels: conditional GANs: one class or `n` classes in [0, num_classes); by
            default the classes in turn (0, 1, ..., 0, 1, ...). A text GAN draws a
            training caption of each class.
          prompts: text GANs: one prompt for all images or `n` prompts (strings);
            unknown words, empty or too long prompts raise `gan_tf.text.PromptError`.
        """
        n = int(n)
        if n <= 0:
            raise ValueError(f"n={n}: expected a positive number of images.")
        condition = self._condition_for_sampling(n, seed, labels, prompts)
        if seed is None:
            noise = tf.random.stateless_normal(
                (n, self.latent_dim), seed=tf.cast(self.noise_seed.next(), tf.int64)
            )
        else:
            noise = tf.random.stateless_normal((n, self.latent_dim), seed=[int(seed), 0])
        return self._sample(noise, condition, batch_size)

    def _sample(self, noise, condition, batch_size=None):
        n = int(noise.shape[0])
        chunk = n if batch_size is None else int(batch_size)
        images = [
            self._generate(
                noise[i : i + chunk], None if condition is None else condition[i : i + chunk], training=False
            )
            for i in range(0, n, chunk)
        ]
        return tf.cast(tf.concat(images, axis=0), tf.float32)

    def _condition_for_sampling(self, n, seed, labels, prompts):
        """The networks' condition for `generate`, checked; None for an unconditional GAN."""
        conditioning = self.conditioning
        if conditioning is None:
            if labels is not None or prompts is not None:
                given = "labels" if labels is not None else "prompts"
                raise LabelError(
                    f"{given} given, but this GAN is unconditional (trained without class labels "
                    "or captions): expected neither."
                )
            return None
        if prompts is not None:
            if labels is not None:
                raise LabelError("Both labels and prompts given: expected one of them.")
            if conditioning.kind != "text":
                raise LabelError(
                    "prompts given, but this GAN is conditioned on class labels: expected labels= "
                    f"(integers in [0, {conditioning.num_classes - 1}])."
                )
            prompts = [prompts] if isinstance(prompts, str) else list(prompts)
            if len(prompts) not in (1, n):
                raise LabelError(f"{len(prompts)} prompts for n={n} images: expected 1 or {n}.")
            tokens = conditioning.encode(prompts)
            return tf.constant(np.repeat(tokens, n, axis=0) if len(prompts) == 1 else tokens)
        labels = conditioning.balanced_labels(n) if labels is None else conditioning.check_labels(labels, n)
        if seed is None:
            caption_seed = tf.cast(self.noise_seed.next(), tf.int64)
        else:
            caption_seed = tf.constant([int(seed), 1], tf.int64)  # [seed, 0] draws the noise
        return conditioning.condition(
            tf.constant(labels), lambda: stateless_uniform(tf.constant([n]), seed=caption_seed)
        )

    def sample_grid(self, num_images, seed=0):
        """(images, columns) of a progress grid: unconditional, `num_images` images from
        fixed noise; conditional, one row per class, and in each column one noise
        vector shared by every class (so that the class is all that changes down a column).
        """
        if self.conditioning is None:
            return self.generate(num_images, seed=seed), None
        classes = self.conditioning.num_classes
        columns = max(1, int(num_images) // classes)
        noise = tf.random.stateless_normal((columns, self.latent_dim), seed=[int(seed), 0])
        noise = tf.tile(noise, [classes, 1])  # row c = class c, same noise in every row
        labels = np.repeat(np.arange(classes, dtype=np.int32), columns)
        condition = self._condition_for_sampling(len(labels), seed, labels, None)
        return self._sample(noise, condition), columns

    def get_config(self):
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
            "conditioning": None if self.conditioning is None else self.conditioning.get_config(),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        from gan_tf import conditioning

        config["conditioning"] = conditioning.from_config(config.get("conditioning"))
        return cls(**config)


def _check_network_inputs(generator, discriminator, conditioning):
    """(noise input shape, image input shape) of the networks, checked against `conditioning`."""
    g_inputs, d_inputs = generator.input_shape, discriminator.input_shape
    g_two = isinstance(g_inputs, list) and len(g_inputs) == 2
    d_two = isinstance(d_inputs, list) and len(d_inputs) == 2
    if conditioning is None:
        if isinstance(g_inputs, list) or isinstance(d_inputs, list):
            raise ValueError(
                f"generator inputs {g_inputs}, discriminator inputs {d_inputs}: networks with a "
                "condition input need conditioning= (an unconditional GAN's take noise and images only)."
            )
        return g_inputs, d_inputs
    if not g_two:
        raise ValueError(
            f"conditioning={conditioning.kind!r}: expected a generator with inputs [noise, condition]; "
            f"{generator.name!r} has inputs {g_inputs}."
        )
    if conditioning.discriminator_takes_condition != d_two:
        expected = "[images, condition]" if conditioning.discriminator_takes_condition else "images only"
        raise ValueError(
            f"conditioning mode {conditioning.mode!r}: expected a discriminator with inputs {expected}; "
            f"{discriminator.name!r} has inputs {d_inputs}."
        )
    if conditioning.auxiliary_classifier and len(discriminator.outputs) != 2:
        raise ValueError(
            f"conditioning mode 'acgan': expected a discriminator with two outputs (logits, class logits); "
            f"{discriminator.name!r} has {len(discriminator.outputs)}."
        )
    return g_inputs[0], d_inputs[0] if d_two else d_inputs


def _loss_scaled(optimizer):
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)
