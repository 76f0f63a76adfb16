"""The command line of every experiment: absl flags derived from `ExperimentConfig`'s declarations.

An experiment module (`gan_tf.experiments.mnist`, ...) holds `NAME`, `DEFAULTS` (its own defaults),
optionally `RECIPE_DEFAULTS` ({recipe: defaults}) and `DATASETS` (for experiments over several data
sets), and calls `main(module)`. Everything here runs without TensorFlow: `--help`, a bad flag and a bad
combination of flags return before it is imported; it is imported only to train.
"""
import dataclasses
import sys
import textwrap

from absl import app, flags

from gan_tf import choices, cli, cpu
from gan_tf.experiments import recipes
from gan_tf.experiments.config import FIELDS, HELP, ExperimentConfig, field_problem, foreign_fields

HELP_FLAGS = ("--help", "-h", "-help", "--helpshort", "-?")
STOPPED = "stopped; rerun the same command to resume"


@dataclasses.dataclass(frozen=True)
class Flag:
    """One flag of an experiment: what `--help` and docs/flags.md show."""

    name: str
    default: object
    type: str
    help: str
    choices: tuple = None


def model_of(module):
    """The kind of model an experiment module trains: "gan", or what its `DEFAULTS` name as `model`."""
    return module.DEFAULTS.get("model", FIELDS["model"].default)


def experiment_flags(module, recipe=recipes.DEFAULT_RECIPE, foreign=False):
    """The flags of an experiment module with their defaults under `recipe`, in declaration order.

    Fields of the other kind of model (`config.foreign_fields`) are left out; `foreign=True`
    lists only those (defined, so that the command line can refuse them by name). `model`
    itself is fixed by the experiment and is no flag.
    """
    values = {**dataclasses.asdict(ExperimentConfig()),
              **recipes.layered_values(recipe, module.DEFAULTS, getattr(module, "RECIPE_DEFAULTS", None))}
    others = foreign_fields(model_of(module))
    rows = []
    for name, field in FIELDS.items():
        if name == "model" or (name in others) != foreign:
            continue
        field_choices = field.metadata["choices"]
        if name == "dataset":
            if not getattr(module, "DATASETS", None):
                continue  # fixed by the experiment
            field_choices = tuple(module.DATASETS)
        default = values[name]
        if name == "out_dir":
            default = module.DEFAULTS.get("out_dir", default)  # keeps "{dataset}" where there is one
        rows.append(Flag(name, default, field.type.__name__ if isinstance(field.type, type) else str(field.type),
                         HELP[name], field_choices))
    return rows


def format_default(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if value == "" else str(value)


def help_text(module, recipe=recipes.DEFAULT_RECIPE):
    """`--help` of an experiment: its flags with its own defaults under `recipe`."""
    summary = (module.__doc__ or "").strip().split("\n\n")[0]
    others = ", ".join(name for name in recipes.RECIPES if name != recipe)
    shown = [flag for flag in experiment_flags(module, recipe) if uses_recipes(module) or flag.name != "recipe"]
    lines = [
        summary,
        "",
        f"usage: python -m gan_tf.experiments.{module.NAME} [--flag=value ...]",
        "",
        f"Flags, with the defaults of --recipe {recipe} (`--recipe {others} --help` shows that recipe's):"
        if uses_recipes(module) else "Flags, with their defaults:",
    ]
    for flag in shown:
        if flag.type == "bool":
            head = f"  --[no]{flag.name} (default: {format_default(flag.default)})"
        else:
            head = f"  --{flag.name}={format_default(flag.default)}"
            if flag.choices:
                head += f"  ({'|'.join(map(str, flag.choices))})"
        lines.append(head)
        lines += textwrap.wrap(flag.help, width=100, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines) + "\n"


def uses_recipes(module):
    """Whether an experiment's defaults come from the recipes (the GAN experiments; the VAE has none)."""
    return model_of(module) == "gan"


def _recipe_in(argv):
    """The `--recipe` value on a raw command line, or the default (for `--help` before parsing)."""
    for i, arg in enumerate(argv):
        if arg.startswith("--recipe="):
            return arg.split("=", 1)[1]
        if arg == "--recipe" and i + 1 < len(argv):
            return argv[i + 1]
    return recipes.DEFAULT_RECIPE


def define_flags(module, flag_values=flags.FLAGS):
    """Defines one absl flag per `ExperimentConfig` field, with the module's defaults under the default
    recipe, each checked when the command line is parsed."""
    for flag in experiment_flags(module) + experiment_flags(module, foreign=True):
        define = {"bool": flags.DEFINE_bool, "int": flags.DEFINE_integer, "float": flags.DEFINE_float}.get(
            flag.type, flags.DEFINE_string)
        define(flag.name, flag.default, flag.help, flag_values=flag_values)

        def check(value, name=flag.name, allowed=flag.choices):
            # --dataset of a multi-dataset experiment takes only that experiment's data sets.
            problem = field_problem(name, value) if name != "dataset" else (
                None if value in allowed else f"one of {', '.join(allowed)}")
            if problem:
                raise flags.ValidationError(f"expected {problem}")
            return True

        flags.register_validator(flag.name, check, flag_values=flag_values)
    if getattr(module, "DATASETS", None):
        datasets = tuple(module.DATASETS)
        flags.register_multi_flags_validator(
            ["dataset", "data_source"],
            lambda values: values["data_source"] in choices.data_sources(values["dataset"]),
            message="--data_source is not a source of --dataset; expected one of: " + "; ".join(
                f"{name}: {', '.join(choices.data_sources(name))}" for name in datasets),
            flag_values=flag_values,
        )
    else:
        dataset = module.DEFAULTS["dataset"]
        flags.register_validator(
            "data_source", lambda value: value in choices.data_sources(dataset),
            message=f"expected one of {', '.join(choices.data_sources(dataset))}", flag_values=flag_values)


def config_from_flags(module, flag_values=flags.FLAGS):
    """The `ExperimentConfig` of the parsed command line: field defaults < recipe < the experiment's
    defaults < the flags the user gave."""
    given = {name: flag_values[name].value for name in FIELDS if name in flag_values and flag_values[name].present}
    refused = {name: why for name, why in foreign_fields(model_of(module)).items() if name in given}
    if not uses_recipes(module) and "recipe" in given:
        refused["recipe"] = "the recipes are sets of GAN techniques"
    if refused:
        raise ValueError("\n".join(
            f"--{name} does not apply to the {module.NAME} experiment: {why}; leave it out "
            "(--help lists this experiment's flags)." for name, why in refused.items()))
    values = recipes.layered_values(flag_values["recipe"].value, module.DEFAULTS,
                                    getattr(module, "RECIPE_DEFAULTS", None), given)
    return ExperimentConfig(**values).validate()


def main(module, run=None, argv=None):
    """Entry point of an experiment: parse and check the flags, choose the CPU settings, then train.

    Args:
      module: the experiment module (see the module docstring) or its name in `gan_tf.experiments`
        (entry points pass their name: run as `python -m`, a module is `__main__`, not itself).
      run: the function that trains a config (default `gan_tf.experiments.runner.run`, imported only
        once the flags are known to be good: that is when TensorFlow starts).
      argv: the command line (default `sys.argv`).
    """
    if isinstance(module, str):
        module = recipes.experiment_module(module)
    argv = list(sys.argv if argv is None else argv)
    if any(arg in HELP_FLAGS for arg in argv[1:]):
        def show_help():
            recipe = _recipe_in(argv[1:])
            if recipe not in recipes.RECIPES:
                raise cli.CommandError(f"--recipe={recipe}: expected one of {', '.join(recipes.RECIPES)}")
            sys.stdout.write(help_text(module, recipe))

        sys.exit(cli.exit_status(show_help))
    define_flags(module)

    def train_from_flags():
        config = config_from_flags(module)
        # TensorFlow reads TF_ENABLE_ONEDNN_OPTS once, when it is imported: decide before.
        cpu.apply_onednn_choice()
        train = run
        if train is None:
            from gan_tf.experiments.runner import run as train
        train(config)

    def _main(args):
        if len(args) > 1:
            raise app.UsageError(f"Unexpected arguments: {' '.join(args[1:])}")
        return cli.exit_status(train_from_flags, stopped=STOPPED)

    app.run(_main, argv=argv)
