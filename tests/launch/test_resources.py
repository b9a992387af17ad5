"""The SLURM request generated from a recipe's ``launcher:`` block, checked against
expected values without a cluster (what cannot run on this machine: multi-node GPU jobs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslctl.errors import RecipeError
from sslctl.launch.resources import (
    SIGNAL_DELAY_S,
    evaluation_request,
    executor_parameters,
    sbatch_options,
    tasks_per_node,
    world_size,
)
from sslctl.recipe import load_recipe, recipe_hash
from sslctl.recipe.durations import time_minutes
from sslctl.recipe.schema import LauncherConfig
from tests.conftest import RECIPES


def _sbatch_lines(cfg: LauncherConfig, folder: Path) -> set[str]:
    from submitit.slurm.slurm import _make_sbatch_string

    text = _make_sbatch_string(
        command="python -m submitit.core._submit X", folder=folder, **executor_parameters(cfg, "j")
    )
    return set(text.splitlines())


def test_two_nodes_four_gpus_give_one_task_per_gpu(tmp_path: Path) -> None:
    """nodes=2, gpus_per_node=4: 4 tasks per node, gres gpu:4, 8 DDP processes, and the
    sbatch script submitit writes carries exactly these options plus requeue and signal."""
    cfg = LauncherConfig(
        kind="slurm",
        nodes=2,
        gpus_per_node=4,
        cpus_per_task=10,
        partition="gpu",
        time="1-12:00:00",
        mem="480G",
        sbatch={"account": "ssl", "constraint": "a100"},
    )
    assert tasks_per_node(cfg) == 4
    assert world_size(cfg) == 8
    params = executor_parameters(cfg, "sslctl-x")
    assert params == {
        "job_name": "sslctl-x",
        "nodes": 2,
        "ntasks_per_node": 4,
        "gres": "gpu:4",
        "cpus_per_task": 10,
        "partition": "gpu",
        "mem": "480G",
        "time": 36 * 60,
        "signal_delay_s": SIGNAL_DELAY_S,
        "srun_args": ["--kill-on-bad-exit=1"],
        "additional_parameters": {"requeue": True, "account": "ssl", "constraint": "a100"},
    }
    lines = _sbatch_lines(cfg, tmp_path / "%j")
    for expected in (
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --gres=gpu:4",
        "#SBATCH --cpus-per-task=10",
        "#SBATCH --partition=gpu",
        "#SBATCH --mem=480G",
        "#SBATCH --time=2160",
        "#SBATCH --requeue",
        "#SBATCH --account=ssl",
        "#SBATCH --constraint=a100",
        f"#SBATCH --signal=USR2@{SIGNAL_DELAY_S}",
        f"#SBATCH --output={tmp_path}/%j/%j_0_log.out",
    ):
        assert expected in lines, expected
    assert any("srun" in line and "--kill-on-bad-exit=1" in line for line in lines)
    assert sbatch_options(cfg, "sslctl-x") == [
        "--job-name=sslctl-x",
        "--nodes=2",
        "--ntasks-per-node=4",
        "--time=2160",
        "--gres=gpu:4",
        "--cpus-per-task=10",
        "--partition=gpu",
        "--mem=480G",
        "--requeue",
        "--account=ssl",
        "--constraint=a100",
    ]


def test_afterok_evaluation_job_is_one_task_waiting_for_pretraining(tmp_path: Path) -> None:
    """chain afterok: the evaluation job of a 2-node x 4-GPU request is 1 node, 1 task,
    1 GPU, and its sbatch script depends on the pretraining job (afterok) and is killed
    if that dependency can never be met."""
    cfg = LauncherConfig(kind="slurm", nodes=2, gpus_per_node=4, chain="afterok", mem="480G")
    ev = evaluation_request(cfg)
    assert (ev.nodes, ev.gpus_per_node, tasks_per_node(ev), world_size(ev)) == (1, 1, 1, 1)
    assert ev.mem == "480G" and ev.time == cfg.time
    params = executor_parameters(ev, "j-eval", after="4242")
    assert params["dependency"] == "afterok:4242"
    assert params["additional_parameters"] == {"requeue": True, "kill_on_invalid_dep": "yes"}
    from submitit.slurm.slurm import _make_sbatch_string

    lines = _make_sbatch_string(command="python x", folder=tmp_path, **params).splitlines()
    for expected in (
        "#SBATCH --dependency=afterok:4242",
        "#SBATCH --kill-on-invalid-dep=yes",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --gres=gpu:1",
    ):
        assert expected in lines, expected
    opts = sbatch_options(ev, "j-eval", after="4242")
    assert "--dependency=afterok:4242" in opts and "--kill-on-invalid-dep=yes" in opts
    assert "dependency" not in executor_parameters(cfg, "j")  # the pretraining job waits for none
    assert evaluation_request(LauncherConfig(kind="slurm", tasks_per_node=2)).tasks_per_node is None


def test_cpu_job_has_no_gres_and_uses_tasks_per_node() -> None:
    """A CPU request (gpus_per_node=0) asks for no GPUs; its DDP processes per node come
    from tasks_per_node (default 1); cluster defaults are left alone."""
    cfg = LauncherConfig(kind="slurm", tasks_per_node=2)
    params = executor_parameters(cfg, "j")
    assert "gres" not in params and "partition" not in params and "mem" not in params
    assert params["ntasks_per_node"] == 2 and params["nodes"] == 1
    assert world_size(LauncherConfig()) == 1


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("30", 30),
        ("04:00:00", 240),
        ("4:30", 5),  # M:S, rounded up
        ("1-00", 1440),
        ("1-02:30", 1590),
        ("2-00:00:01", 2881),
    ],
)
def test_time_limits_in_sbatch_formats(text: str, minutes: int) -> None:
    """Every sbatch time format converts to whole minutes (rounded up)."""
    assert time_minutes(text) == minutes


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("launcher.time=4:00:00", "launcher.time"),  # YAML reads this as 14400
        ('launcher.time="four hours"', "launcher.time"),
        ("launcher.mem=lots", "launcher.mem"),
        ("launcher.gpus_per_node=4", None),  # fine alone
        ("launcher.nodes=0", "launcher.nodes"),
    ],
)
def test_bad_launcher_fields_are_recipe_errors(override: str, field: str | None) -> None:
    """Invalid launcher values are recipe errors naming the field; valid ones load."""
    if field is None:
        load_recipe(RECIPES / "vicreg.yaml", [override])
        return
    with pytest.raises(RecipeError, match=field):
        load_recipe(RECIPES / "vicreg.yaml", [override])


def test_one_task_per_gpu_is_enforced() -> None:
    """tasks_per_node other than gpus_per_node on a GPU request is refused."""
    with pytest.raises(RecipeError, match="one task per GPU"):
        load_recipe(
            RECIPES / "vicreg.yaml", ["launcher.gpus_per_node=4", "launcher.tasks_per_node=2"]
        )


def test_launcher_does_not_change_the_recipe_hash() -> None:
    """Where a run executes is not what it computes: same hash, so caching and resume work
    across local and SLURM runs of the same recipe."""
    local = load_recipe(RECIPES / "vicreg.yaml", [])
    slurm = load_recipe(
        RECIPES / "vicreg.yaml", ["launcher.kind=slurm", "launcher.nodes=2", "launcher.mem=8G"]
    )
    assert recipe_hash(local) == recipe_hash(slurm)


def test_job_names_are_safe_in_the_job_script() -> None:
    """The experiment name goes into `#SBATCH --job-name=`: spaces, quotes, newlines and
    shell characters become `_` so the line cannot be split or extended."""
    from sslctl.launch.resources import script_safe

    assert script_safe('sslctl-my exp\n#SBATCH --x "$(id)"') == "sslctl-my_exp__SBATCH_--x____id__"
    assert script_safe("sslctl-quickstart.v2_a") == "sslctl-quickstart.v2_a"
