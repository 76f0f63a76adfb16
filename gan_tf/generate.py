"""Draws images from a trained run: `python -m gan_tf.generate --run_dir RUN --prompt "a handwritten seven"`.

    python -m gan_tf.generate --run_dir runs/text_to_image_mnist --prompt "a handwritten seven" --n 16 --out seven.png
    python -m gan_tf.generate --run_dir runs/mnist_projection --label 7 --n 16 --out seven.png
    python -m gan_tf.generate --run_dir runs/mnist --n 64 --out samples.png      # unconditional run

Text runs take `--prompt`, class-conditional runs `--label`, unconditional runs neither.
Everything that can be checked without TensorFlow (the run directory, the label's
range, the prompt's words and length) is checked first; a mistake is reported in one
line naming the value and what was expected, with exit status 1.
"""
import argparse
import math
import os
import sys


class GenerateError(ValueError):
    """A problem with the command line or the run directory."""


def _parser():
    parser = argparse.ArgumentParser(prog="python -m gan_tf.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--run_dir", required=True, help="Run directory of a training run (has config.json).")
    parser.add_argument("--prompt", help="Text runs: the description to draw, e.g. 'a handwritten seven'.")
    parser.add_argument("--label", type=int, help="Class-conditional runs: the class to draw (0-based).")
    parser.add_argument("--n", type=int, default=16, help="Number of images (default 16).")
    parser.add_argument("--out", default="generated.png", help="PNG file for the grid of images.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the noise: same seed, same images.")
    parser.add_argument("--checkpoint", help="Checkpoint file (default: the run's newest).")
    return parser


def read_run(run_dir):
    """The run's config.json record; raises `GenerateError` if `run_dir` is not a run directory."""
    from gan_tf.experiments import run_record

    try:
        return run_record.read(run_dir)
    except run_record.RunRecordError as error:
        raise GenerateError(str(error)) from None


def check_request(run_dir, record, prompt=None, label=None, n=16):
    """Checks a request against the run without TensorFlow; returns a short description of it.

    Raises:
      GenerateError: the request does not fit the run (wrong kind of condition, label
        out of range, unknown words, ...).
    """
    flags = record["flags"]
    conditional, is_text = flags.get("conditional", "none"), flags.get("text", False)
    if n < 1:
        raise GenerateError(f"--n={n}: expected a positive number of images.")
    if conditional == "none":
        if prompt is not None or label is not None:
            given = f"--prompt={prompt!r}" if prompt is not None else f"--label={label}"
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
        from gan_tf.experiments.conditional import load_text
        from gan_tf.text import PromptError, caption_set, caption_vocabulary

        recorded = load_text(run_dir)
        vocabulary = recorded[1] if recorded else caption_vocabulary(caption_set(flags["dataset"]))
        try:
            vocabulary.check(prompt)
        except PromptError as error:
            raise GenerateError(str(error)) from None
        return f"prompt {prompt!r}"
    if prompt is not None:
        raise GenerateError(
            f"--prompt={prompt!r}: run {run_dir!r} is conditioned on class labels, not text; expected --label."
        )
    num_classes = record["data"].get("num_classes")
    if label is None:
        raise GenerateError(f"run {run_dir!r} is class-conditional: expected --label in [0, {num_classes - 1}].")
    if not 0 <= label < num_classes:
        raise GenerateError(
            f"--label={label} is out of range: expected an integer in [0, {num_classes - 1}] "
            f"(run {run_dir!r} has {num_classes} classes)."
        )
    return f"label {label}"


def generate(run_dir, prompt=None, label=None, n=16, out="generated.png", seed=0, checkpoint=None):
    """Draws `n` images for a prompt or label from a run and writes them as a grid; returns the images."""
    record = read_run(run_dir)
    what = check_request(run_dir, record, prompt, label, n)
    out_parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(out_parent):
        raise GenerateError(f"--out={out!r}: the directory {out_parent!r} does not exist.")
    if not out.lower().endswith(".png"):
        raise GenerateError(f"--out={out!r}: expected a .png file name.")
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise GenerateError(f"--checkpoint={checkpoint!r} is not a file.")

    from gan_tf import viz
    from gan_tf.experiments.runner import restore_gan

    gan, _ = restore_gan(run_dir, checkpoint=checkpoint)
    images = gan.generate(n, seed=seed, labels=label, prompts=prompt).numpy()
    viz.save_grid(images, out, columns=math.ceil(math.sqrt(n)))
    print(f"Wrote {out}: {n} images for {what} from {run_dir}.")
    return images


def main(argv=None):
    """Command-line entry point; returns the exit status (1 for a user error, with no traceback)."""
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from gan_tf.experiments.runner import USER_ERRORS  # TensorFlow loads here

    try:
        generate(args.run_dir, args.prompt, args.label, args.n, args.out, args.seed, args.checkpoint)
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
