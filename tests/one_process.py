"""Commands run one after another in one Python process: a process each cost the suite seconds
per case, nearly all of it importing TensorFlow or scikit-learn. Each command gets absl's flags
back at their defaults and a stderr of its own (the descriptor, so that what C++ prints counts
too).

`definitions` is Python that defines `command(argv)`: it runs the command and returns (or exits
with) its status. What `command` imports prints into the first case's stderr, as the command's
own process would; what `definitions` imports, into none.

`last_json` runs a script in a child of its own and reads back what it printed as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)  # not conftest's: the child would run conftest's set-up too


def each(command, cases: str) -> None:
    """In the child: `command(argv)` for each (argv, stderr path) of `cases` (JSON); prints the statuses."""
    from absl import flags

    statuses = []
    for argv, stderr in json.loads(cases):
        sys.stderr.flush()
        kept = os.dup(2)
        with open(stderr, "w") as f:
            os.dup2(f.fileno(), 2)
        try:
            statuses.append(command(argv))
        except SystemExit as end:
            statuses.append(0 if end.code is None else end.code)
        finally:
            sys.stderr.flush()
            os.dup2(kept, 2)
            os.close(kept)
            flags.FLAGS.unparse_flags()
    print(json.dumps(statuses))


def statuses(definitions: str, cases: list[tuple[list, str]], env: dict) -> list:
    """The status of each (argv, stderr path) in `cases`, run by `definitions`' command in one child."""
    script = f"import sys\n{definitions}\nimport one_process\none_process.each(command, sys.argv[1])\n"
    env = {**env, "PYTHONPATH": os.pathsep.join([HERE, ROOT])}
    return last_json(script, [json.dumps(cases, default=str)], env)


def last_json(script: str, args: list[str], env: dict | None = None):
    """What `python -c SCRIPT ARGS` (in the checkout) printed as JSON on its last line; its
    stderr's tail where it fails."""
    run = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])
