"""Imports run one way: each module of emorec imports only from its own layer or those below
(DESIGN.md's data flow). An import inside a function counts: it is a dependency all the same."""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# From the bottom up.
LAYERS = (
    # The serving contract (signatures, the request checks, the client interface) is here: training's
    # enrolment implements it as the exports' clients do.
    (
        "vocabulary and media",
        (
            "emorec",
            "emorec.ravdess",
            "emorec.corpora",
            "emorec.media",
            "emorec.signatures",
            "emorec.checks",
            "emorec.clients",
            "emorec.errors",
            "emorec.metrics",
            "emorec.plots",
            "emorec.folders",
            "emorec.presets",
            "emorec.synthetic",
            "emorec.litert",
        ),
    ),
    ("models", ("emorec.models",)),
    (
        "data and training",
        (
            "emorec.data",
            "emorec.enrolment",
            "emorec.feature_cache",
            "emorec.building",
            "emorec.evaluation",
            "emorec.distribute",
            "emorec.beam",
        ),
    ),
    ("export and serving", ("emorec.export", "emorec.serving", "emorec.tflite", "emorec.preset_tflite")),
    ("inference and commands", ("emorec.inference", "emorec.commands", "emorec.export_command", "emorec.demo")),
)


def layer_of(module: str) -> int:
    """The layer of the longest prefix that names `module` or a package above it."""
    matches = [
        (len(prefix), level)
        for level, (_, prefixes) in enumerate(LAYERS)
        for prefix in prefixes
        if module == prefix or module.startswith(prefix + ".")
    ]
    assert matches, f"{module} is in no layer: add it to LAYERS"
    return max(matches)[1]


def imported(path: str, module: str) -> set[str]:
    """The emorec modules `path` imports (a name imported from a package counts as its module
    where one is so named)."""
    names = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names if alias.name.startswith("emorec")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("emorec"):
            names |= {
                f"{node.module}.{alias.name}"
                if os.path.exists(os.path.join(ROOT, *node.module.split("."), alias.name))
                or os.path.exists(os.path.join(ROOT, *node.module.split("."), alias.name + ".py"))
                else node.module
                for alias in node.names
            }
    return names - {module}


def modules():
    for dirpath, _, filenames in os.walk(os.path.join(ROOT, "emorec")):
        for filename in sorted(filenames):
            if filename.endswith(".py"):
                path = os.path.join(dirpath, filename)
                name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                yield path, name


def test_every_import_points_down_or_across_never_up():
    upward = [
        f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for path, name in modules()
        for target in sorted(imported(path, name))
        if layer_of(target) > layer_of(name)
    ]
    assert not upward, "\n".join(upward)


def test_the_layering_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "late.py"
    module.write_text("def f():\n    from emorec import serving\n")
    assert layer_of(next(iter(imported(str(module), "emorec.models.late")))) > layer_of("emorec.models.late")
