"""Draws images from a trained run: samples, prompts, labels, and walks through the latent space.

    python -m gan_tf.generate --run_dir runs/text_to_image_mnist --prompt "a handwritten seven" --n 16 --out seven.png
    python -m gan_tf.generate --run_dir runs/mnist_projection --label 7 --n 16 --out seven.png
    python -m gan_tf.generate --run_dir runs/mnist --n 64 --out samples.png      # unconditional run
    python -m gan_tf.generate --run_dir runs/mnist --interpolate 10 --out walk.png [--linear] [--gif]
    python -m gan_tf.generate --run_dir runs/vae_mnist --n 64 --out samples.png  # a VAE run: decoded z ~ N(0, I)

Text runs take `--prompt`, class-conditional runs `--label`, unconditional runs neither.

`--interpolate N` draws `--rows` paths of N images each between two random noise
vectors (spherical interpolation; `--linear` for straight lines); `--gif` writes the
walk as an animated GIF instead (`--out X.gif`). On a class-conditional run it draws
one row per class, every row the same noise path, or with `--label A` holds class A
fixed, or with `--label A --label B` moves the class embedding from A to B with the
noise of each row fixed. On a text run, `--prompt P` holds the prompt fixed and two
`--prompt`s move the caption encoding from the first to the second.

Everything that can be checked without TensorFlow (the flags, the run directory, the
label's range, the prompt's words and length) is checked first; a mistake is reported
in one line naming the value and what was expected, with exit status 1.
"""
import json
import math
import os
import sys

from absl import flags

from gan_tf import cli, cpu

# Its own flag set, not absl's global FLAGS: importing this module (tests, notebooks,
# other commands) defines no global flags, and `main` can parse several times.
FLAGS = flags.FlagValues()
flags.DEFINE_string("run_dir", None, "Run directory of a training run (has config.json).", flag_values=FLAGS)
flags.DEFINE_multi_string("prompt", None, "Text runs: the description to draw, e.g. 'a handwritten seven'; "
                          "twice with --interpolate: interpolate between the two.", flag_values=FLAGS)
flags.DEFINE_multi_integer("label", None, "Class-conditional runs: the class to draw (0-based); twice with "
                           "--interpolate: interpolate between the two classes.", flag_values=FLAGS)
flags.DEFINE_integer("n", 16, "Number of images.", lower_bound=None, flag_values=FLAGS)
flags.DEFINE_string("out", "generated.png", "PNG file for the grid of images (.gif with --gif).", flag_values=FLAGS)
flags.DEFINE_integer("seed", 0, "Seed of the noise: same seed, same images.", flag_values=FLAGS)
flags.DEFINE_string("checkpoint", None, "Checkpoint file (default: the run's newest).", flag_values=FLAGS)
flags.DEFINE_integer("interpolate", 0, "Images per interpolation path, endpoints included (>= 2); 0: plain "
                     "samples.", flag_values=FLAGS)
flags.DEFINE_integer("rows", 8, "With --interpolate: number of paths (rows); a class run without --label "
                     "has one row per class.", flag_values=FLAGS)
flags.DEFINE_boolean("linear", False, "With --interpolate: linear instead of spherical interpolation of the "
                     "noise.", flag_values=FLAGS)
flags.DEFINE_boolean("gif", False, "With --interpolate: write the walk as an animated GIF (--out X.gif).",
                     flag_values=FLAGS)
flags.DEFINE_integer("gap", 0, "Pixels between the grid's tiles.", flag_values=FLAGS)
flags.DEFINE_boolean("raw", False, "Draw with the raw generator instead of the EMA generator (runs with "
                     "--ema_kimg > 0 keep both).", flag_values=FLAGS)
flags.DEFINE_integer("upscale", 1, "Enlarge each image by this factor (nearest neighbour; 2-3 for 28x28).",
                     flag_values=FLAGS)
flags.mark_flag_as_required("run_dir", flag_values=FLAGS)

HELP_FLAGS = cli.HELP_FLAGS
PROGRAM = "python -m gan_tf.generate"


GenerateError = cli.CommandError  # this module's name for it (a bad request, or not a run directory)


def usage():
    """The `--help` text: this module's docstring and its flags with their defaults."""
    return cli.usage(__doc__, FLAGS)


def parse(argv):
    """Parses command-line arguments (without the program name); raises `GenerateError`."""
    return cli.parse(FLAGS, PROGRAM, argv, GenerateError)


def read_run(run_dir):
    """The run's config.json record; raises `GenerateError` if `run_dir` is not a run directory."""
    from gan_tf.experiments import run_record

    return run_record.read(run_dir)


def _recorded_vocabulary(run_dir, dataset):
    """The vocabulary a text run was trained with (its text.json), else the data set's.

    Read here rather than through `gan_tf.experiments.conditional.load_text`, which
    imports the networks (and TensorFlow): prompts are checked before that.
    """
    from gan_tf.text import Vocabulary, caption_set, caption_vocabulary

    path = os.path.join(run_dir, "text.json")
    if os.path.exists(path):
        with open(path) as f:
            return Vocabulary.from_dict(json.load(f)["vocabulary"])
    return caption_vocabulary(caption_set(dataset))


def check_request(run_dir, record, prompt=None, label=None, n=16):
    """Checks a request against the run without TensorFlow; returns a short description of it.

    Raises:
      GenerateError: the request does not fit the run (wrong kind of condition, label
        out of range, unknown words, ...).
    """
    from gan_tf.text.vocabulary import shown

    flags_ = record["flags"]
    conditional, is_text = flags_.get("conditional", "none"), flags_.get("text", False)
    if n < 1:
        raise GenerateError(f"--n={n}: expected a positive number of images.")
    if conditional == "none":
        if prompt is not None or label is not None:
            given = f"--prompt={shown(prompt)}" if prompt is not None else f"--label={label}"
            raise GenerateError(
                f"{given}: run {run_dir!r} is unconditional (trained without --conditional); "
                "expected neither --prompt nor --label."
            )
        return f"{n} samples"
    if is_text:
        if label is not None:
            raise GenerateError(
                f"--label={label}: run {run_dir!r} is a text-to-image run; expected --prompt, "
                "e.g. --prompt 'a handwritten seven'."
            )
        if prompt is None:
            raise GenerateError(
                f"run {run_dir!r} is a text-to-image run: expected --prompt, e.g. 'a handwritten seven'."
            )
        from gan_tf.text import PromptError

        try:
            _recorded_vocabulary(run_dir, flags_["dataset"]).check(prompt)
        except PromptError as error:
            raise GenerateError(str(error)) from None
        return f"prompt {prompt!r}"
    if prompt is not None:
        raise GenerateError(
            f"--prompt={shown(prompt)}: run {run_dir!r} is conditioned on class labels, not text; expected --label."
        )
    num_classes = (record.get("data") or {}).get("num_classes")
    if not isinstance(num_classes, int):
        raise GenerateError(f"{os.path.join(run_dir, 'config.json')} lacks data.num_classes: expected the "
                            "config.json a class-conditional training run writes.")
    if label is None:
        raise GenerateError(f"run {run_dir!r} is class-conditional: expected --label in [0, {num_classes - 1}].")
    if not 0 <= label < num_classes:
        raise GenerateError(
            f"--label={label} is out of range: expected an integer in [0, {num_classes - 1}] "
            f"(run {run_dir!r} has {num_classes} classes)."
        )
    return f"label {label}"


def check_interpolation(run_dir, record, steps, rows=8, labels=(), prompts=()):
    """Checks an `--interpolate` request without TensorFlow; returns (kind, description).

    kind is "noise" (condition, if any, fixed), "classes" (a class run, one row per
    class) or "conditions" (between two labels or two prompts).
    """
    labels, prompts = list(labels or ()), list(prompts or ())
    if steps < 2:
        raise GenerateError(f"--interpolate={steps}: expected at least 2 images per path (both endpoints).")
    if rows < 1:
        raise GenerateError(f"--rows={rows}: expected a positive number of paths.")
    given = labels or prompts
    if len(given) > 2:
        name = "--label" if labels else "--prompt"
        raise GenerateError(f"{name} given {len(given)} times: expected one (held fixed) or two (interpolated).")
    flags_ = record["flags"]
    if labels and prompts:
        check_request(run_dir, record, prompts[0], labels[0])  # raises: only one kind fits a run
    if not given and flags_.get("conditional", "none") != "none" and not flags_.get("text", False):
        return "classes", f"{record['data'].get('num_classes')} classes, one noise path shared by all"
    if not given:
        check_request(run_dir, record)
        return "noise", f"{rows} noise paths"
    for value in given:
        if labels:
            check_request(run_dir, record, label=value)
        else:
            check_request(run_dir, record, prompt=value)
    shown = [repr(v) if prompts else f"label {v}" for v in given]
    if len(given) == 1:
        return "noise", f"{rows} noise paths with {shown[0]} fixed"
    return "conditions", f"{rows} rows from {shown[0]} to {shown[1]}, the noise of each row fixed"


def _check_output(out, checkpoint, suffix):
    out_parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_parent):
        raise GenerateError(f"--out={out!r}: the directory {out_parent!r} does not exist.")
    if not out.lower().endswith(suffix):
        raise GenerateError(f"--out={out!r}: expected a {suffix} file name.")
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise GenerateError(f"--checkpoint={checkpoint!r} is not a file.")


def _check_layout(gap, upscale):
    for name, value, low in (("--gap", gap, 0), ("--upscale", upscale, 1)):
        if value < low:
            raise GenerateError(f"{name}={value}: expected an integer >= {low}.")


# Images are drawn in chunks of this many, so that the generator's activations stay small; the images
# themselves and their grid are what grows with the count.
SAMPLING_CHUNK = 256


def available_memory_bytes():
    """Memory this process could still allocate: MemAvailable of /proc/meminfo, else the free
    physical pages; None when neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def drawing_bytes(count, image_shape, upscale=1, gap=0):
    """An estimate of the peak memory of drawing `count` images and laying them out in a grid: per image,
    four float32 copies (the chunks, their concatenation, two temporaries of the conversion to pixels)
    and three uint8 ones (pixels, enlarged pixels, the grid's tile with its gap)."""
    height, width, channels = (int(v) for v in image_shape)
    pixels = height * width * channels
    tile = (height * upscale + gap) * (width * upscale + gap) * channels
    return count * (4 * 4 * pixels + pixels + 2 * tile)


def _check_memory(count, record, upscale, gap, flag):
    """Refuses a request whose images cannot fit in the memory available, before TensorFlow starts."""
    image_shape = (record.get("data") or {}).get("image_shape")
    available = available_memory_bytes()
    if not image_shape or available is None:
        return
    needed = drawing_bytes(count, image_shape, upscale, gap)
    if needed > available:
        most = max(1, available // max(1, drawing_bytes(1, image_shape, upscale, gap)))
        raise GenerateError(
            f"{flag}: {count:,} images of {'x'.join(map(str, image_shape))} need about {needed / 1e9:,.1f} GB to "
            f"draw and lay out in one grid, more than the {available / 1e9:,.1f} GB of memory available; expected "
            f"at most about {most:,} images here.")


def generate(run_dir, prompt=None, label=None, n=16, out="generated.png", seed=0, checkpoint=None, gap=0,
             upscale=1, raw=False):
    """Draws `n` images for a prompt or label from a run and writes them as a grid; returns the images."""
    record = read_run(run_dir)
    what = check_request(run_dir, record, prompt, label, n)
    cli.check_raw(run_dir, raw)
    _check_output(out, checkpoint, ".png")
    _check_layout(gap, upscale)
    _check_memory(n, record, upscale, gap, f"--n={n}")

    from gan_tf import viz
    from gan_tf.experiments.runner import restore_gan

    gan, _ = restore_gan(run_dir, checkpoint=checkpoint)
    # Only the options a request uses: a VAE's generate takes none of them.
    options = {key: value for key, value in (("labels", label), ("prompts", prompt)) if value is not None}
    if raw:
        options["use_ema"] = False
    images = gan.generate(n, seed=seed, batch_size=SAMPLING_CHUNK, **options).numpy()
    viz.save_grid(images, out, columns=math.ceil(math.sqrt(n)), gap=gap, upscale=upscale)
    print(f"Wrote {out}: {n} images for {what} from {run_dir}.")
    return images


def interpolate(run_dir, steps, out="interpolation.png", rows=8, seed=0, linear=False, gif=False, labels=(),
                prompts=(), checkpoint=None, gap=0, upscale=1, raw=False):
    """Writes an interpolation grid (or a GIF of the walk) from a run; returns (images, columns).

    Args:
      run_dir: the training run's --out_dir.
      steps: images per path, endpoints included.
      out: a .png file (.gif with `gif`).
      rows: paths (ignored by a class run without labels: one row per class).
      seed: seed of the endpoints.
      linear: straight lines instead of slerp between noise vectors.
      gif: write the walk as an animated GIF, one frame per step, back and forth.
      labels, prompts: none, one (held fixed) or two (interpolated between) conditions.
      checkpoint: checkpoint file (default: the newest).
      gap, upscale: grid layout (`gan_tf.viz.image_grid`).
      raw: walk the raw generator's latent space, not the EMA generator's.
    """
    record = read_run(run_dir)
    kind, what = check_interpolation(run_dir, record, steps, rows, labels, prompts)
    cli.check_raw(run_dir, raw)
    _check_output(out, checkpoint, ".gif" if gif else ".png")
    _check_layout(gap, upscale)

    import numpy as np

    from gan_tf import latent, viz
    from gan_tf.experiments.runner import restore_gan

    gan, _ = restore_gan(run_dir, checkpoint=checkpoint)
    if raw:  # this process only samples: without its EMA copy, the GAN samples from the raw generator
        gan.ema_generator = None
    conditions = list(labels or ()) or [gan.conditioning.encode([p])[0] for p in prompts or ()]
    if kind == "classes":
        images, columns = latent.class_interpolation_grid(gan, steps, seed=seed, spherical=not linear)
    elif kind == "noise":
        condition = conditions[0] if conditions else None
        images, columns = latent.interpolation_grid(gan, steps, rows, seed, not linear, condition)
    else:
        images, columns = latent.condition_interpolation_grid(gan, conditions[0], conditions[1], steps, rows, seed)
    if gif:
        frames = latent.walk_frames(images, columns)
        per_row = math.ceil(math.sqrt(len(frames[0])))
        viz.save_gif([viz.image_grid(f, per_row, gap=gap, upscale=upscale) for f in frames], out,
                     frame_ms=120, last_frame_ms=120)
    else:
        viz.save_grid(images, out, columns=columns, gap=gap, upscale=upscale)
    print(f"Wrote {out}: {'a walk of ' if gif else ''}{len(images) // columns} × {columns} images "
          f"({what}; {'linear' if linear or kind == 'conditions' else 'spherical'} interpolation) from {run_dir}.")
    return np.asarray(images), columns


def _single(values, name):
    values = list(values or ())
    if len(values) > 1:
        raise GenerateError(f"{name} given {len(values)} times: expected one (two only with --interpolate).")
    return values[0] if values else None


def main(argv=None):
    """Command-line entry point; returns the exit status (1 for a user error, with no traceback).

    `--help`, flag mistakes and every check of the request against the run answer
    before TensorFlow is imported.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(arg in HELP_FLAGS for arg in argv):
        print(usage())
        return 0
    return cli.exit_status(lambda: _generate_from(argv))


def _generate_from(argv):
    args = parse(argv)
    record = read_run(args.run_dir)
    if args.interpolate:
        check_interpolation(args.run_dir, record, args.interpolate, args.rows, args.label, args.prompt)
        _check_output(args.out, args.checkpoint, ".gif" if args.gif else ".png")
    else:
        if args.gif or args.linear:
            raise GenerateError(f"--{'gif' if args.gif else 'linear'} needs --interpolate N.")
        label, prompt = _single(args.label, "--label"), _single(args.prompt, "--prompt")
        check_request(args.run_dir, record, prompt, label, args.n)
        _check_output(args.out, args.checkpoint, ".png")
    cli.check_raw(args.run_dir, args.raw)
    _check_layout(args.gap, args.upscale)
    if not args.interpolate:
        _check_memory(args.n, record, args.upscale, args.gap, f"--n={args.n}")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow loads from here on
    # TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it is imported: choose it as training does.
    cpu.apply_onednn_choice()
    if args.interpolate:
        interpolate(args.run_dir, args.interpolate, args.out, args.rows, args.seed, args.linear, args.gif,
                    args.label, args.prompt, args.checkpoint, args.gap, args.upscale, args.raw)
    else:
        generate(args.run_dir, prompt, label, args.n, args.out, args.seed, args.checkpoint, args.gap,
                 args.upscale, args.raw)


if __name__ == "__main__":
    sys.exit(main())
