"""What every gan_tf command shares: the one handler of user errors (`exit_status`, used by the experiments,
`generate`, `evaluate`, `export` and `conditional_eval`), their error class, and for the commands that read a
run directory (`gan_tf.generate`, `gan_tf.conditional_eval`) absl flags on the command's own `FlagValues`,
parsed and explained before TensorFlow is imported. Importing this module imports no TensorFlow."""
import json
import os
import sys

from absl import flags

HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull")


def usage(doc, flag_values):
    """The `--help` text: the command's docstring and its own flags with their defaults (none of absl's)."""
    modules = [name for name in flag_values.flags_by_module_dict() if not name.startswith("absl.")]
    listing = "\n".join(flag_values.module_help(name).strip().split("\n", 1)[-1] for name in modules)
    return f"{doc}\nflags:\n{listing}\n"


def parse(flag_values, program, argv, error):
    """Parses `argv` (without the program name) into `flag_values`; a mistake raises `error(message)`."""
    flag_values.unparse_flags()
    try:
        rest = flag_values([program, *argv])
    except flags.Error as problem:
        raise error(f"{problem} (see {program} --help).") from None
    if len(rest) > 1:
        raise error(f"unexpected arguments {rest[1:]}: every option is a --flag (see {program} --help).")
    return flag_values


class CommandError(ValueError):
    """A request a command cannot carry out as given: a flag value, a `--run_dir` that is not a training
    run's, or a request the run cannot serve. The message names the value and what was expected."""


def run_model(run_dir):
    """What a run trained, "gan" or "vae", from its config.json (runs before the VAE, or a record that
    cannot be read: "gan"; restoring the run reports what is wrong with it)."""
    try:
        with open(os.path.join(run_dir, "config.json")) as f:
            flags_ = json.load(f).get("flags", {})
        return flags_.get("model", "gan") if isinstance(flags_, dict) else "gan"
    except (OSError, ValueError, AttributeError):
        return "gan"


def check_raw(run_dir, raw):
    """`--raw` asks for a GAN's raw generator: refused for a VAE run, whose decoder has no EMA copy."""
    if raw and run_model(run_dir) == "vae":
        raise CommandError(f"--raw: run {run_dir!r} is a VAE, whose decoder has no EMA copy to tell apart from "
                           "a raw one; leave --raw out.")


def is_user_error(error):
    """Whether `error` is a mistake the user can fix (reported in one line) rather than a bug."""
    if isinstance(error, (ValueError, OSError)):
        return True
    # The training path's own user errors (a locked run, no usable checkpoint, ...). They can only have been
    # raised once the runner was imported, so asking for them here imports nothing (and no TensorFlow).
    runner = sys.modules.get("gan_tf.experiments.runner")
    return runner is not None and isinstance(error, runner.USER_ERRORS)


def exit_status(body, stopped="stopped"):
    """Runs a command's `body()` and returns the command's exit status: the one handler of user errors.

    A mistake the user can fix (`is_user_error`) prints `error: <message>` on stderr, without a traceback,
    and gives 1; Ctrl-C prints `stopped` (what to do next) and gives 130; anything else is a bug and keeps
    its traceback. Otherwise the status is what `body` returns (0 for None).
    """
    try:
        status = body()
    except KeyboardInterrupt:
        print(stopped, file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 (re-raised unless it is the user's)
        if not is_user_error(error):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0 if status is None else status
