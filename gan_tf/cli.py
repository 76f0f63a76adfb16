"""What the commands that read a run directory share (`gan_tf.generate`, `gan_tf.conditional_eval`): absl
flags on the command's own `FlagValues`, parsed and explained before TensorFlow is imported."""
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
