"""GAN: the one training abstraction, a `keras.Model` with a custom `train_step`."""
import warnings

import keras
import numpy as np
import tensorflow as tf

from gan_tf import augment as gan_augment
from gan_tf import ema as gan_ema
from gan_tf import losses as gan_losses
from gan_tf import terms as gan_terms
from gan_tf.conditioning import LabelError
from gan_tf.networks.layers import stateless_normal, stateless_uniform

# Logged every step; terms (penalties, conditioning) add their own keys. `loss` is
# d_loss + g_loss, not an objective: Keras callbacks that watch `loss` (TerminateOnNaN)
# then see a non-finite value of either network.
_LOG_KEYS = ("d_loss", "g_loss", "d_real", "d_fake")


@keras.saving.register_keras_serializable(package="gan_tf")
class GAN(keras.Model):
    """A generator and a discriminator trained with alternating updates.

    Args:
      generator: `keras.Model` mapping [batch, latent_dim] noise to images in [-1, 1].
      discriminator: `keras.Model` mapping images to [batch, 1] logits (critic values),
        or [batch, h, w, 1] for a patch discriminator (losses averaged over patches).
      latent_dim: size of the noise vector.
      seed: integer seed of the noise stream (None: a random one).
      conditioning: None for an unconditional GAN, or a `gan_tf.conditioning`
        object (`ClassConditioning`, `TextConditioning`); the GAN then trains on
        `(images, labels)` batches, its generator takes `[noise, condition]` and its
        discriminator `[images, condition]` (ACGAN: images, with a class head); see
        `gan_tf.networks.conditional` for matching networks.
      ema_kimg: half-life, in thousands of images, of an exponential moving average of
        the generator's weights (`gan.ema_generator`, see `gan_tf.ema`); 0 = off.
        `generate` and `sample_grid` use the average when there is one.
      ema_rampup: None, or StyleGAN2-ADA's warm-up coefficient (0.05 there): the
        half-life is at most images_seen × ema_rampup.
      augment: None, or differentiable augmentation (DiffAugment, Zhao et al. 2020) of
        every image the discriminator sees in training, reals and fakes, in both
        updates and inside the penalties (their gradients are taken through it, as in
        StyleGAN2-ADA): a `gan_tf.augment.AdaptiveAugment` (ADA's adaptive p, Karras et
        al. 2020; p is logged as `augment_p` and checkpointed), a policy (names of
        `gan_tf.augment.POLICIES`, or a comma-separated string) applied with
        probability 1, or a dict `{"policy": ..., "probability": float or
        AdaptiveAugment}`.

    Learning rates: Keras's `LearningRateScheduler` and `ReduceLROnPlateau` change
    `model.optimizer`, which is the generator's optimizer; during `fit` the
    discriminator's learning rate follows it, keeping the ratio d_lr / g_lr it had when
    `fit` started.

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

    def __init__(self, generator, discriminator, latent_dim, seed=None, conditioning=None, ema_kimg=0.0,
                 ema_rampup=None, augment=None, name="gan", **kwargs):
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
        gan_ema.check_options(ema_kimg, ema_rampup)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.seed = seed
        self.conditioning = conditioning
        self.noise_seed = keras.random.SeedGenerator(seed, name="noise_seed")
        # evaluate()'s own stream: held-out losses must not move the training noise.
        self.eval_seed = keras.random.SeedGenerator(7919 + (0 if seed is None else int(seed)), name="eval_seed")
        self.ema_kimg = float(ema_kimg)
        self.ema_rampup = None if ema_rampup is None else float(ema_rampup)
        self.ema_generator = gan_ema.clone(generator) if self.ema_kimg > 0 else None
        self.augment_policy, probability = _augment_options(augment)
        # An AdaptiveAugment layer (tracked, so saved with the model), or a fixed float.
        adaptive = probability is not None and not isinstance(probability, float)
        self.adaptive_augment = probability if adaptive else None
        self.augment_probability = None if adaptive else probability
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
        r2_gamma=0.0,
        regularization_interval=1,
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
          r2_gamma: γ of the R2 penalty γ/2·‖∇D(G(z))‖² on fakes (R3GAN uses R1 and R2
            with one γ), 0 = off.
          regularization_interval: k of lazy regularisation (StyleGAN2): the penalties
            are applied on discriminator steps whose count is a multiple of k, with
            their weights × k; 1 = every step.
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
        weights = (("gradient_penalty_weight", gradient_penalty_weight), ("r1_gamma", r1_gamma),
                   ("r2_gamma", r2_gamma))
        for key, value in weights:
            if not value >= 0:
                raise ValueError(f"{key}={value!r}: expected a weight >= 0.")
        if int(regularization_interval) != regularization_interval or regularization_interval < 1:
            raise ValueError(f"regularization_interval={regularization_interval!r}: expected an integer >= 1.")
        if weight_clip is not None and weight_clip <= 0:
            raise ValueError(f"weight_clip={weight_clip!r}: expected a positive bound or None.")
        self.loss_pair = gan_losses.get(loss)
        self.d_steps = int(d_steps)
        self.gradient_penalty_weight = float(gradient_penalty_weight)
        self.r1_gamma = float(r1_gamma)
        self.r2_gamma = float(r2_gamma)
        self.regularization_interval = int(regularization_interval)
        self.weight_clip = weight_clip
        self._gan_compile_config = {
            "d_optimizer": keras.optimizers.serialize(d_optimizer),
            "g_optimizer": keras.optimizers.serialize(g_optimizer),
            "loss": loss if isinstance(loss, str) else None,
            **{key: float(value) for key, value in weights},
            "d_steps": self.d_steps, "regularization_interval": self.regularization_interval,
            "weight_clip": weight_clip,
        }

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

        # Every technique beside the adversarial pair, in the order its terms are added.
        interval = self.regularization_interval
        self.terms = list(self.conditioning.terms) if self.conditioning is not None else []
        if self.gradient_penalty_weight:
            self.terms.append(gan_terms.GradientPenalty(self.gradient_penalty_weight, interval))
        if self.r1_gamma:
            self.terms.append(gan_terms.R1Penalty(self.r1_gamma, interval))
        if self.r2_gamma:
            self.terms.append(gan_terms.R2Penalty(self.r2_gamma, interval))
        if self.adaptive_augment is not None:
            self.terms.append(_AdaptiveAugmentTerm(self.adaptive_augment))
        keys = [*_LOG_KEYS, *(key for term in self.terms for key in term.log_keys), "loss"]
        self.trackers = {key: keras.metrics.Mean(name=key) for key in keys}

    @property
    def metrics(self):
        # Listed here so that Keras resets them at each epoch start.
        return list(self.trackers.values())

    def get_compile_config(self):
        """What `compile_from_config` needs to compile a loaded GAN as this one was."""
        if not self.compiled:
            return {}
        if self._gan_compile_config["loss"] is None:
            warnings.warn("The GAN was compiled with a loss-pair object, which is not saved; "
                          "a loaded GAN is compiled with the default loss. Compile it again after loading.")
        return dict(self._gan_compile_config)

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("d_optimizer", "g_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
        if config.get("loss") is None:
            config.pop("loss", None)
        self.compile(**config)

    # --------------------------------------------------------------- training
    def _replica_slice(self, sample, batch_size, shape, seed_generator=None):
        """This replica's rows of one draw made for the whole global batch.

        Every replica draws the global batch's values from the same seed and keeps its
        own slice, so replicas get distinct values, and N replicas see exactly the values
        one device would: training does not depend on the replica count.
        """
        context = tf.distribute.get_replica_context()
        replicas = 1 if context is None else context.num_replicas_in_sync
        replica_id = 0 if context is None else context.replica_id_in_sync_group
        seed = tf.cast((seed_generator or self.noise_seed).next(), tf.int64)
        values = sample((batch_size * replicas, *shape), seed=seed)
        return values[replica_id * batch_size : (replica_id + 1) * batch_size]

    def _noise(self, batch_size, seed_generator=None):
        """[batch, latent_dim] normal noise, distinct on every replica."""
        return self._replica_slice(stateless_normal, batch_size, (self.latent_dim,), seed_generator)

    def _uniform(self, batch_size, seed_generator=None):
        """[batch] U[0, 1) values, distinct on every replica (draws of captions, penalties)."""
        return self._replica_slice(stateless_uniform, batch_size, (), seed_generator)

    def _generate(self, noise, condition, training, generator=None):
        generator = generator or self.generator
        if self.conditioning is None:
            return generator(noise, training=training)
        return generator([noise, condition], training=training)

    @property
    def augment_variables(self):
        """The augmentation's state (ADA's p and its statistics); checkpointed."""
        return list(self.adaptive_augment.variables) if self.adaptive_augment is not None else []

    def _augment(self, images):
        """DiffAugment of a batch, with random values drawn as `_replica_slice` draws them."""
        # A named scope, so that profiles (experiments/benchmarks/profile_step.py) can tell its ops.
        with tf.name_scope("diff_augment"):
            batch_size = tf.shape(images)[0]
            draw = lambda shape: self._replica_slice(stateless_uniform, batch_size, tuple(shape))  # noqa: E731
            probability = self.augment_probability if self.adaptive_augment is None else self.adaptive_augment.p
            return gan_augment.diff_augment(images, draw, self.augment_policy, probability=probability)

    def discriminate(self, images, condition, training=True):
        """(logits, class logits) of the discriminator; class logits are None but for ACGAN.

        In training, images are augmented first when the GAN augments.
        """
        if training and self.augment_policy:
            images = self._augment(images)
        if self.conditioning is None:
            return self.discriminator(images, training=training), None
        if self.conditioning.discriminator_takes_condition:
            outputs = self.discriminator([images, condition], training=training)
        else:
            outputs = self.discriminator(images, training=training)
        if self.conditioning.auxiliary_classifier:
            return outputs[0], outputs[1]
        return outputs, None

    def critic(self, condition):
        """images -> the discriminator's logits in training mode (for penalties' gradients)."""
        return lambda images: self.discriminate(images, condition)[0]

    def _unpack(self, data):
        """(images, labels, condition) of a batch; labels and condition are None if unconditional."""
        if isinstance(data, (tuple, list)):  # (images, labels) from fit(x, y) or a labelled dataset
            real_images, labels = data[0], (data[1] if len(data) > 1 else None)
        else:
            real_images, labels = data, None
        if self.conditioning is None:
            return real_images, labels, None
        if labels is None:
            raise ValueError("A conditional GAN trains on (images, labels) batches; got images only.")
        # Fake images are made for the real batch's classes, so that both sides of the
        # discriminator's loss see the same classes (and, for text, the same captions).
        return real_images, labels, self.conditioning.condition(labels, lambda: self._uniform(tf.shape(real_images)[0]))

    def _add_terms(self, hook, step, loss, logs):
        """loss + every term's extra loss for one update (`hook`); their logs go into `logs`."""
        for term in self.terms:
            extra, term_logs = getattr(term, hook)(self, step)
            if not (isinstance(extra, float) and extra == 0.0):
                loss += extra
            logs.update(term_logs)
        return loss

    def _discriminator_update(self, step):
        """One discriminator step on `step`'s images; returns its local logs (per-replica means)."""
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            step.real_logits, step.real_classes = self.discriminate(step.real_images, step.condition)
            step.fake_logits, step.fake_classes = self.discriminate(step.fake_images, step.condition)
            d_loss = tf.reduce_mean(self.loss_pair.discriminator_loss(step.real_logits, step.fake_logits))
            logs = {"d_loss": d_loss}
            total = self._add_terms("discriminator_term", step, d_loss, logs)
            # A local mean divided by the replica count is the replica's share of the
            # global-batch mean; apply_gradients sums the shares across replicas.
            scaled = self.d_optimizer.scale_loss(total / replicas)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        if self.weight_clip is not None:
            for variable in variables:
                variable.assign(tf.clip_by_value(variable, -self.weight_clip, self.weight_clip))
        logs.update(d_real=_mean(step.real_logits), d_fake=_mean(step.fake_logits))
        return logs

    def train_step(self, data):
        real_images, labels, condition = self._unpack(data)
        batch_size = tf.shape(real_images)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync

        # Extra critic steps (WGAN): the generator is not updated between them.
        for _ in range(self.d_steps - 1):
            noise = self._noise(batch_size)
            fake_images = self._generate(noise, condition, training=True)
            self._discriminator_update(gan_terms.Step(real_images, fake_images, noise, condition, labels))

        with tf.GradientTape() as g_tape:
            # Generated once and reused for both updates: the generator does not change
            # during the discriminator step, so a second forward pass would be waste.
            noise = self._noise(batch_size)
            fake_images = self._generate(noise, condition, training=True)
            step = gan_terms.Step(real_images, fake_images, noise, condition, labels)

            # --- discriminator update (not part of the generator's gradient) ---
            with g_tape.stop_recording():
                logs = self._discriminator_update(step)

            # --- generator update, against the *updated* discriminator ---
            step.fake_logits, step.fake_classes = self.discriminate(fake_images, condition)
            if self.loss_pair.generator_needs_real:  # relativistic: D(G(z)) against D(x)
                with g_tape.stop_recording():
                    step.real_logits, step.real_classes = self.discriminate(real_images, condition)
                g_loss = tf.reduce_mean(self.loss_pair.generator_loss(step.fake_logits, step.real_logits))
            else:
                g_loss = tf.reduce_mean(self.loss_pair.generator_loss(step.fake_logits))
            logs["g_loss"] = g_loss
            total = self._add_terms("generator_term", step, g_loss, logs)
            scaled = self.g_optimizer.scale_loss(total / replicas)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(scaled, variables), variables))

        if self.ema_generator is not None:
            self._update_ema(batch_size * replicas)
        return self._report(logs)

    def _update_ema(self, global_batch):
        # Images seen before this step: the generator's step count is already incremented.
        with tf.name_scope("ema_update"):  # named for profiles, as `_augment`
            images_seen = (self.g_optimizer.iterations - 1) * tf.cast(global_batch, tf.int64)
            decay = gan_ema.beta(global_batch, images_seen, self.ema_kimg, self.ema_rampup)
            gan_ema.update(self.ema_generator, self.generator, decay)

    def _report(self, logs):
        """Updates the epoch means; returns the step's logs as Keras expects them."""
        values = {}
        for key, value in logs.items():
            value, weight = value if isinstance(value, tuple) else (value, None)
            self.trackers[key].update_state(value, sample_weight=weight)
            values[key] = value
        values["loss"] = values["d_loss"] + values["g_loss"]
        self.trackers["loss"].update_state(values["loss"])
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # MultiWorkerMirroredStrategy cannot reduce rank-0 logs (tensorflow#72388);
            # shape [1] works there. Each replica reports its local mean; Keras averages them.
            return {key: tf.reshape(value, [1]) for key, value in values.items()}
        return values

    def test_step(self, data):
        """Held-out losses, no update: `d_loss`, `g_loss`, `d_real`, `d_fake` (and `loss`).

        Networks run in inference mode, without augmentation; the fake images come from
        a noise stream of their own, so evaluating does not change training's noise.
        Conditioning and penalty terms are not evaluated.
        """
        real_images, labels = (data[0], data[1] if len(data) > 1 else None) if isinstance(
            data, (tuple, list)) else (data, None)
        batch_size = tf.shape(real_images)[0]
        condition = None
        if self.conditioning is not None:
            if labels is None:
                raise ValueError("A conditional GAN evaluates on (images, labels) batches; got images only.")
            condition = self.conditioning.condition(labels, lambda: self._uniform(batch_size, self.eval_seed))
        fake_images = self._generate(self._noise(batch_size, self.eval_seed), condition, training=False)
        real_logits, _ = self.discriminate(real_images, condition, training=False)
        fake_logits, _ = self.discriminate(fake_images, condition, training=False)
        if self.loss_pair.generator_needs_real:
            g_loss = self.loss_pair.generator_loss(fake_logits, real_logits)
        else:
            g_loss = self.loss_pair.generator_loss(fake_logits)
        logs = {
            "d_loss": tf.reduce_mean(self.loss_pair.discriminator_loss(real_logits, fake_logits)),
            "g_loss": tf.reduce_mean(g_loss), "d_real": _mean(real_logits), "d_fake": _mean(fake_logits),
        }
        logs["loss"] = logs["d_loss"] + logs["g_loss"]
        for key, value in logs.items():
            self.trackers[key].update_state(value)
        # Running means over the evaluation so far, as Keras's own test_step reports.
        means = {key: self.trackers[key].result() for key in logs}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            return {key: tf.reshape(value, [1]) for key, value in means.items()}
        return means

    def fit(self, *args, callbacks=None, **kwargs):
        """`keras.Model.fit`; the discriminator's learning rate follows the generator's (see class doc)."""
        follower = _FollowLearningRate()
        if isinstance(callbacks, keras.callbacks.CallbackList):
            callbacks.append(follower)
        else:
            callbacks = [*(callbacks or []), follower]
        return super().fit(*args, callbacks=callbacks, **kwargs)

    # --------------------------------------------------------------- sampling
    def call(self, inputs, training=False):
        # inputs: noise, or [noise, condition] for a conditional GAN.
        return self.generator(inputs, training=training)

    def sampling_generator(self, use_ema=True):
        """The network `generate` samples from: the EMA generator if there is one and `use_ema`."""
        return self.ema_generator if use_ema and self.ema_generator is not None else self.generator

    def generate(self, n, seed=None, batch_size=None, labels=None, prompts=None, use_ema=True):
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
          use_ema: sample from the EMA generator when the GAN keeps one (False: the
            raw generator).
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
        return self._sample(noise, condition, batch_size, use_ema)

    def _sample(self, noise, condition, batch_size=None, use_ema=True):
        n = int(noise.shape[0])
        chunk = n if batch_size is None else int(batch_size)
        generator = self.sampling_generator(use_ema)
        images = [
            self._generate(
                noise[i : i + chunk], None if condition is None else condition[i : i + chunk], training=False,
                generator=generator,
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

    def sample_grid(self, num_images, seed=0, use_ema=True):
        """(images, columns) of a progress grid: unconditional, `num_images` images from
        fixed noise; conditional, one row per class, and in each column one noise
        vector shared by every class (so that the class is all that changes down a column).
        `use_ema`: as in `generate`.
        """
        if self.conditioning is None:
            return self.generate(num_images, seed=seed, use_ema=use_ema), None
        classes = self.conditioning.num_classes
        columns = max(1, int(num_images) // classes)
        noise = tf.random.stateless_normal((columns, self.latent_dim), seed=[int(seed), 0])
        noise = tf.tile(noise, [classes, 1])  # row c = class c, same noise in every row
        labels = np.repeat(np.arange(classes, dtype=np.int32), columns)
        condition = self._condition_for_sampling(len(labels), seed, labels, None)
        return self._sample(noise, condition, use_ema=use_ema), columns

    def get_config(self):
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "seed": self.seed,
            "conditioning": None if self.conditioning is None else self.conditioning.get_config(),
            "ema_kimg": self.ema_kimg,
            "ema_rampup": self.ema_rampup,
            "augment": self._augment_config(),
            "name": self.name,
        }

    def _augment_config(self):
        if not self.augment_policy:
            return None
        probability = self.augment_probability
        if self.adaptive_augment is not None:
            probability = self.adaptive_augment.get_config()
        return {"policy": list(self.augment_policy), "probability": probability}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        from gan_tf import conditioning

        config["conditioning"] = conditioning.from_config(config.get("conditioning"))
        config["augment"] = _augment_from_config(config.get("augment"))
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


def _mean(logits):
    return tf.reduce_mean(tf.cast(logits, tf.float32))


def _augment_options(augment):
    """(policy tuple, probability float or AdaptiveAugment) of the `augment` argument; checked."""
    if augment is None:
        return (), None
    if isinstance(augment, dict):
        unknown = set(augment) - {"policy", "probability"}
        if unknown:
            raise ValueError(f"augment={augment!r}: unknown keys {sorted(unknown)}; expected policy, probability.")
        policy, probability = augment.get("policy"), augment.get("probability", 1.0)
    elif hasattr(augment, "update") and hasattr(augment, "p"):  # an AdaptiveAugment
        policy, probability = None, augment
    else:
        policy, probability = augment, 1.0
    if policy is None:
        policy = ("translation", "cutout", "color")  # diff_augment's default: DiffAugment's full policy
    names = [p.strip() for p in policy.split(",")] if isinstance(policy, str) else list(policy)
    bad = [name for name in names if name not in gan_augment.POLICIES]
    if bad or not names:
        raise ValueError(f"augment policy {policy!r}: expected names among {', '.join(gan_augment.POLICIES)}.")
    if isinstance(probability, (int, float)):
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"augment probability={probability!r}: expected a value in [0, 1].")
        probability = float(probability)
    elif not (hasattr(probability, "update") and hasattr(probability, "p")):
        raise ValueError(f"augment probability={probability!r}: expected a float or a gan_tf.augment.AdaptiveAugment.")
    return tuple(names), probability


def _augment_from_config(config):
    if config is None:
        return None
    probability = config["probability"]
    if isinstance(probability, dict):
        probability = gan_augment.AdaptiveAugment.from_config(probability)
    return {"policy": config["policy"], "probability": probability}


class _AdaptiveAugmentTerm(gan_terms.Term):
    """ADA's controller as a term of the discriminator update: it adds no loss, feeds the
    real logits to `AdaptiveAugment.update` and logs p."""

    log_keys = ("augment_p",)

    def __init__(self, adaptive):
        self.adaptive = adaptive

    def discriminator_term(self, gan, step):
        global_batch = tf.shape(step.real_logits)[0] * tf.distribute.get_strategy().num_replicas_in_sync
        p = self.adaptive.update(tf.stop_gradient(step.real_logits), global_batch)
        return 0.0, {"augment_p": tf.convert_to_tensor(p)}


class _FollowLearningRate(keras.callbacks.Callback):
    """Keeps d_lr / g_lr constant during `fit` when a callback changes `model.optimizer`'s rate.

    Keras's `LearningRateScheduler` and `ReduceLROnPlateau` set only `model.optimizer`
    (the generator's); this callback runs after them at each epoch's start and end
    and sets the discriminator's rate to g_lr × the ratio at the start of `fit`.
    """

    def on_train_begin(self, logs=None):
        d_lr, g_lr = (_learning_rate(o) for o in (self.model.d_optimizer, self.model.g_optimizer))
        self._ratio = None if d_lr is None or not g_lr else d_lr / g_lr
        self._g_lr = g_lr

    def _follow(self):
        g_lr = _learning_rate(self.model.g_optimizer)
        if g_lr == self._g_lr or self._ratio is None:
            return
        self._g_lr = g_lr
        try:
            self.model.d_optimizer.learning_rate = g_lr * self._ratio
        except (TypeError, ValueError, AttributeError) as error:  # e.g. a LearningRateSchedule
            warnings.warn(f"The generator's learning rate changed to {g_lr:g}, but the discriminator's "
                          f"could not follow ({error}).")
            self._ratio = None

    def on_epoch_begin(self, epoch, logs=None):
        self._follow()

    def on_epoch_end(self, epoch, logs=None):
        self._follow()


def _learning_rate(optimizer):
    """The optimizer's current learning rate as a float, None if it is a schedule."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    if isinstance(inner._learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return None
    return float(keras.ops.convert_to_numpy(inner.learning_rate))
