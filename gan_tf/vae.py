"""VAE: the variational autoencoder baseline, a `keras.Model` with a custom `train_step`.

Kingma & Welling 2014, "Auto-Encoding Variational Bayes": an encoder q(z|x) = N(μ(x),
diag σ²(x)), a decoder p(x|z), trained by maximising the evidence lower bound
E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I)) with the reparameterisation z = μ + σ·ε,
ε ~ N(0, I); β-VAE (Higgins et al. 2017) weights the KL term by β.

    from gan_tf.networks.vae import vae_decoder, vae_encoder
    vae = VAE(vae_encoder((28, 28, 1), 32), vae_decoder(32, (28, 28, 1)), latent_dim=32, seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-3))
    vae.fit(train_images.batch(128), epochs=10, validation_data=test_images.batch(500))
    samples = vae.generate(64, seed=0)              # [64, 28, 28, 1] in [-1, 1]
    scores = vae.evaluate(test_images.batch(500), return_dict=True)   # ..., psnr, ssim

Images enter in [-1, 1] like the GAN's; the likelihood is defined on pixels mapped to
[0, 1]. Noise is drawn as `gan_tf.GAN` draws it: stateless Philox values from a
checkpointable `SeedGenerator`, the global batch's draw sliced per replica, so training
is exact on resume and does not depend on the replica count.
"""
import math

import keras
import tensorflow as tf

from gan_tf import choices
from gan_tf.networks.layers import replica_slice, stateless_normal

RECONSTRUCTIONS = choices.VAE_RECONSTRUCTIONS
_TRAIN_KEYS = ("loss", "reconstruction", "kl")
_TEST_KEYS = _TRAIN_KEYS + ("psnr", "ssim")
# Held-out ε is drawn from this fixed seed, never from the training stream: evaluating
# must not change what training draws next (nor depend on how often it runs).
_EVALUATION_SEED = (0x7E57, 1)


# ------------------------------------------------------------------ pure math
def gaussian_kl(mean, log_variance):
    """KL(N(mean, diag exp(log_variance)) ‖ N(0, I)) per example, in nats.

    The closed form of Kingma & Welling 2014, appendix B:
    ½ Σ_j (σ_j² + μ_j² − 1 − log σ_j²), summed over the last axis.
    """
    mean = tf.cast(mean, tf.float32)
    log_variance = tf.cast(log_variance, tf.float32)
    return 0.5 * tf.reduce_sum(tf.exp(log_variance) + tf.square(mean) - 1.0 - log_variance, axis=-1)


def bernoulli_nll(targets, logits):
    """−log p(x|z) per example for independent Bernoulli pixels: the binary cross-entropy
    of targets in [0, 1] against sigmoid(logits), summed over pixels (stable in the logits)."""
    per_pixel = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=tf.cast(logits, tf.float32))
    return tf.reduce_sum(tf.reshape(per_pixel, [tf.shape(per_pixel)[0], -1]), axis=-1)


def gaussian_nll(targets, means, sigma):
    """−log N(x; means, σ² I) per example, summed over pixels:
    Σ (x − m)² / (2σ²) + log(σ √(2π))."""
    squared = tf.reshape(tf.square(targets - means), [tf.shape(targets)[0], -1])
    pixels = tf.cast(tf.shape(squared)[1], tf.float32)
    return tf.reduce_sum(squared, axis=-1) / (2.0 * sigma**2) + pixels * math.log(sigma * math.sqrt(2.0 * math.pi))


def to_unit(images):
    """Images in [-1, 1] → [0, 1]."""
    return (tf.cast(images, tf.float32) + 1.0) * 0.5


def ssim_filter_size(height, width):
    """tf.image.ssim's 11×11 Gaussian window, shrunk to fit images smaller than 11 pixels."""
    return max(1, min(11, int(height), int(width)))


def reconstruction_quality(images, reconstructions):
    """(PSNR in dB, SSIM) per image of two [B, H, W, C] batches in [-1, 1].

    Both are computed on [0, 1] pixels (max value 1) by `tf.image.psnr` and
    `tf.image.ssim` (Wang et al. 2004: Gaussian window σ = 1.5, K1 = 0.01, K2 = 0.03);
    identical images score PSNR = inf and SSIM = 1.
    """
    a = tf.clip_by_value(to_unit(images), 0.0, 1.0)
    b = tf.clip_by_value(to_unit(reconstructions), 0.0, 1.0)
    size = ssim_filter_size(images.shape[1], images.shape[2])
    return tf.image.psnr(a, b, max_val=1.0), tf.image.ssim(a, b, max_val=1.0, filter_size=size)


def logits_to_images(logits):
    """Decoder logits → images in [-1, 1]: 2·sigmoid(l) − 1 = tanh(l / 2)."""
    return tf.tanh(0.5 * tf.cast(logits, tf.float32))


# ------------------------------------------------------------------ the model
@keras.saving.register_keras_serializable(package="gan_tf")
class VAE(keras.Model):
    """A variational autoencoder (Kingma & Welling 2014), optionally a β-VAE (Higgins et al. 2017).

    Per example the loss is the negative ELBO with β:
    −log p(x|z) + β · KL(q(z|x) ‖ N(0, I)), z = μ + σ·ε with one ε ~ N(0, I) per
    example; it is averaged over the global batch.

    Args:
      encoder: `keras.Model` mapping images [B, H, W, C] in [-1, 1] to
        [mean, log_variance], each [B, latent_dim] (`gan_tf.networks.vae.vae_encoder`).
      decoder: `keras.Model` mapping z [B, latent_dim] to pixel logits [B, H, W, C]
        (`gan_tf.networks.vae.vae_decoder`); sigmoid(logits) are pixel means in [0, 1].
      latent_dim: size of z.
      beta: weight of the KL term (β-VAE; 1 = the plain VAE's ELBO, β > 1 trades
        reconstruction for a posterior closer to the prior; 0 = an autoencoder with noise).
      reconstruction: the decoder's likelihood p(x|z) on pixels in [0, 1]:
        "bernoulli" (default): independent Bernoulli pixels, the loss is the binary
          cross-entropy summed over pixels. Kingma & Welling's choice for MNIST and that
          of TensorFlow's and Keras's VAE examples, which makes numbers comparable; its
          gradient in the logits, sigmoid(l) − x, does not vanish for saturated pixels (a
          squared error on sigmoid outputs does), which suits the mostly black and white
          MNIST and Fashion-MNIST. For grey levels it is not a normalised
          density (the continuous Bernoulli of Loaiza-Ganem & Cunningham 2019 is), so
          its loss is not a log-likelihood of continuous images.
        "gaussian": N(x; sigmoid(logits), σ² I) with a fixed σ = `gaussian_sigma`: a proper
          density for grey-level and colour images (CelebA). σ trades reconstruction
          against KL like β does (squared error / 2σ²).
      gaussian_sigma: σ of the Gaussian likelihood, in [0, 1] pixel units. The default
        0.1 weights each pixel's squared error by 50; with σ = 1 the KL term would
        dominate and the posterior collapse to the prior (blurry mean images).
      seed: integer seed of the noise stream (None: a random one).

    Logs: `loss`, `reconstruction` (−log p(x|z)) and `kl` in nats per image, running
    means over the epoch; `evaluate` adds `psnr` (dB) and `ssim` of the posterior-mean
    reconstructions decode(μ(x)) of held-out images.
    """

    # Unconditional: the tools shared with GAN runs (`gan_tf.generate`, `gan_tf.latent`,
    # evaluation) read `conditioning` to decide between class, text and plain sampling.
    conditioning = None

    def __init__(
        self,
        encoder,
        decoder,
        latent_dim,
        beta=1.0,
        reconstruction="bernoulli",
        gaussian_sigma=0.1,
        seed=None,
        name="vae",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        latent_dim = int(latent_dim)
        if latent_dim <= 0:
            raise ValueError(f"latent_dim={latent_dim}: expected a positive integer.")
        if not float(beta) >= 0.0:
            raise ValueError(f"beta={beta!r}: expected a KL weight >= 0.")
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(f"reconstruction={reconstruction!r}: expected one of {', '.join(RECONSTRUCTIONS)}.")
        if not float(gaussian_sigma) > 0.0:
            raise ValueError(f"gaussian_sigma={gaussian_sigma!r}: expected a standard deviation > 0.")
        _check_networks(encoder, decoder, latent_dim)
        self.encoder = encoder
        self.decoder = decoder
        self.latent_dim = latent_dim
        self.beta = float(beta)
        self.reconstruction = reconstruction
        self.gaussian_sigma = float(gaussian_sigma)
        self.seed = seed
        self.noise_seed = keras.random.SeedGenerator(seed, name="noise_seed")
        self.trackers = {key: keras.metrics.Mean(name=key) for key in _TEST_KEYS}
        # Both networks are built functional models. Without this, fit() under any
        # tf.distribute strategy calls self.call on a symbolic batch.
        self.built = True

    def compile(self, optimizer, **kwargs):
        """Injects the optimizer (one, for encoder and decoder together).

        Args:
          optimizer: a `keras.optimizers.Optimizer` (Adam 1e-3 is the usual choice).
          **kwargs: passed to `keras.Model.compile` (e.g. `jit_compile`, `steps_per_execution`).
        """
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError(f"optimizer={optimizer!r}: expected a keras.optimizers.Optimizer.")
        if keras.mixed_precision.global_policy().name == "mixed_float16" and not isinstance(
            optimizer, keras.optimizers.LossScaleOptimizer
        ):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)  # float16 gradients underflow
        super().compile(optimizer=optimizer, **kwargs)
        # Built now, outside the traced step: lazily created slots break MirroredStrategy
        # and XLA, and an unbuilt optimizer is skipped on restore.
        optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        # Listed so that Keras resets them at each epoch start and at each evaluate.
        return list(self.trackers.values())

    # --------------------------------------------------------------- the ELBO
    def _terms(self, images, epsilon, training):
        """Per-example (reconstruction, kl) [B] of images [B, H, W, C] with noise ε [B, latent_dim],
        and the posterior means [B, latent_dim]."""
        mean, log_variance = self.encoder(images, training=training)
        z = mean + tf.exp(0.5 * log_variance) * epsilon  # reparameterisation: ∂z/∂μ, ∂z/∂logσ² exist
        logits = self.decoder(z, training=training)
        targets = to_unit(images)
        if self.reconstruction == "bernoulli":
            reconstruction = bernoulli_nll(targets, logits)
        else:
            reconstruction = gaussian_nll(targets, tf.sigmoid(tf.cast(logits, tf.float32)), self.gaussian_sigma)
        return reconstruction, gaussian_kl(mean, log_variance), mean

    def _epsilon(self, batch_size, seed):
        return replica_slice(stateless_normal, batch_size, (self.latent_dim,), seed)

    def train_step(self, data):
        images = _images_of(data)
        batch_size = tf.shape(images)[0]
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        epsilon = self._epsilon(batch_size, tf.cast(self.noise_seed.next(), tf.int64))
        with tf.GradientTape() as tape:
            reconstruction, kl, _ = self._terms(images, epsilon, training=True)
            loss = reconstruction + self.beta * kl  # [B]
            # A local mean divided by the replica count is the replica's share of the
            # global-batch mean; apply_gradients sums the shares across replicas.
            scaled = self.optimizer.scale_loss(tf.reduce_mean(loss) / replicas)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return self._update({"loss": loss, "reconstruction": reconstruction, "kl": kl})

    def test_step(self, data):
        images = _images_of(data)
        epsilon = self._epsilon(tf.shape(images)[0], tf.constant(_EVALUATION_SEED, tf.int64))
        reconstruction, kl, mean = self._terms(images, epsilon, training=False)
        psnr, ssim = reconstruction_quality(images, self.decode(mean))  # posterior-mean reconstructions
        return self._update(
            {"loss": reconstruction + self.beta * kl, "reconstruction": reconstruction, "kl": kl,
             "psnr": psnr, "ssim": ssim}
        )

    def _update(self, values):
        """Updates the trackers with per-example values [B]; returns their running means as logs.

        Per-example values, not batch means: each tracker is then the mean over every
        image seen (across replicas too, as Keras sums metric states), whatever the
        batch sizes, e.g. a smaller last batch of held-out images.

        Running means, not this step's values: train logs hold three of the five
        trackers, so Keras reports the last step's logs at the epoch's end (it uses
        the trackers' results only when the key sets agree, as they do in `evaluate`).
        """
        for key, value in values.items():
            self.trackers[key].update_state(value)
        logs = {key: self.trackers[key].result() for key in values}
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # MultiWorkerMirroredStrategy cannot reduce rank-0 logs (tensorflow#72388).
            logs = {key: tf.reshape(value, [1]) for key, value in logs.items()}
        return logs

    def checkpoint_groups(self):
        """Named, ordered lists of every variable training changes, for an exact resume:
        both networks (BatchNorm statistics included), the noise seed state (which Keras's
        own savers leave out) and the optimizer (slots and iteration count). The epoch
        trackers are left out: Keras resets them at every epoch start.
        """
        return {
            "encoder": self.encoder.variables,
            "decoder": self.decoder.variables,
            "noise_seed": [self.noise_seed.state],
            "optimizer": self.optimizer.variables,
        }

    # --------------------------------------------------------------- inference
    def encode(self, images):
        """(mean, log_variance), each [B, latent_dim] float32, of images in [-1, 1]."""
        mean, log_variance = self.encoder(images, training=False)
        return tf.cast(mean, tf.float32), tf.cast(log_variance, tf.float32)

    def decode(self, z):
        """Images in [-1, 1] (the decoder's pixel means) of latent codes z [B, latent_dim]."""
        return logits_to_images(self.decoder(z, training=False))

    def reconstruct(self, images):
        """Posterior-mean reconstructions decode(μ(x)) of images in [-1, 1], in [-1, 1]."""
        mean, _ = self.encode(images)
        return self.decode(mean)

    def call(self, images, training=False):
        return self.reconstruct(images)

    def generate(self, n, seed=None, batch_size=None):
        """Returns `n` float32 images in [-1, 1] decoded from z ~ N(0, I), like `GAN.generate`.

        Args:
          n: number of images.
          seed: integer seed; the same seed gives the same images (the same z as a GAN
            of this latent_dim draws for that seed). None draws from the model's own stream.
          batch_size: decode in chunks of this size to bound memory (default: all at once).
        """
        n = int(n)
        if n <= 0:
            raise ValueError(f"n={n}: expected a positive number of images.")
        if batch_size is not None and int(batch_size) <= 0:
            raise ValueError(f"batch_size={batch_size!r}: expected a positive integer or None.")
        if seed is None:
            seed = tf.cast(self.noise_seed.next(), tf.int64)
        else:
            seed = [int(seed), 0]
        z = tf.random.stateless_normal((n, self.latent_dim), seed=seed)
        chunk = n if batch_size is None else int(batch_size)
        return tf.concat([self.decode(z[i : i + chunk]) for i in range(0, n, chunk)], axis=0)

    @property
    def generator(self):
        """A functional model z → images in [-1, 1] sharing the decoder's weights: lets code
        written for a GAN's generator (`gan_tf.latent`, sample grids, `gan_tf.export`) sample a VAE.

        `logits_to_images` as built-in layers (tanh(l / 2)), not a `Lambda`: a saved `.keras` file
        then loads with plain Keras, without `safe_mode=False` or gan_tf."""
        z = keras.Input((self.latent_dim,), name="z")
        half = keras.layers.Rescaling(0.5, dtype="float32", name="half_logits")(self.decoder(z))
        images = keras.layers.Activation("tanh", dtype="float32", name="to_images")(half)
        return keras.Model(z, images, name="vae_generator")

    def get_config(self):
        return {
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "latent_dim": self.latent_dim,
            "beta": self.beta,
            "reconstruction": self.reconstruction,
            "gaussian_sigma": self.gaussian_sigma,
            "seed": self.seed,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        config["decoder"] = keras.saving.deserialize_keras_object(config["decoder"])
        return cls(**config)


def _images_of(data):
    """The images of a batch; labels, if the dataset has them, are not used."""
    return data[0] if isinstance(data, (tuple, list)) else data


def _check_networks(encoder, decoder, latent_dim):
    """Raises ValueError unless encoder and decoder fit each other and latent_dim."""
    outputs = encoder.output_shape
    if not (isinstance(outputs, list) and len(outputs) == 2):
        raise ValueError(
            f"encoder {encoder.name!r} has output shape {outputs}: expected two outputs "
            f"[mean, log_variance], each (None, {latent_dim})."
        )
    for label, shape in zip(("mean", "log_variance"), outputs):
        if tuple(shape[1:]) != (latent_dim,):
            raise ValueError(
                f"encoder {encoder.name!r} output {label} has shape {shape}, but latent_dim={latent_dim}."
            )
    if tuple(decoder.input_shape[1:]) != (latent_dim,):
        raise ValueError(
            f"decoder {decoder.name!r} takes inputs of shape {decoder.input_shape}, but latent_dim={latent_dim}."
        )
    if tuple(decoder.output_shape[1:]) != tuple(encoder.input_shape[1:]):
        raise ValueError(
            f"decoder output shape {decoder.output_shape[1:]} does not match the encoder's "
            f"image shape {encoder.input_shape[1:]}."
        )
