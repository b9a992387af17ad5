"""What runs inside a SLURM job: every task (one per GPU, or per CPU slot) runs
:class:`PipelineJob`. Rank 0 runs the whole pipeline in the MLflow run chosen at
submission (pretraining under DDP with the other ranks, then the evaluations alone);
the other ranks only take part in pretraining and log nothing. In an ``afterok`` chain
the first job runs ``stages="pretrain"`` and the second, one task, ``stages="evaluate"``.

The callable is :class:`submitit.helpers.Checkpointable`: on preemption or timeout
submitit calls :meth:`PipelineJob.checkpoint` on rank 0, which requeues the same
callable. Its state is on disk (the atomic per-epoch checkpoint under
``$SSLCTL_HOME/runs/<hash>/``), so a requeued job, or one requeued by
``scontrol requeue``, resumes from the last finished epoch into the same MLflow run.
SLURM's ``SLURM_RESTART_COUNT`` is logged as the tag ``sslctl.slurm.requeues``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from submitit.helpers import Checkpointable, DelayedSubmission


class LogReporter:
    """One line per epoch in the job's log (no progress bars in a file)."""

    def start(self, epochs: int, first_epoch: int, steps_per_epoch: int) -> None:
        print(f"pretraining epochs {first_epoch + 1}..{epochs}, {steps_per_epoch} steps each")

    def step(self) -> None: ...

    def epoch(self, stats: Any) -> None:
        print(
            f"epoch {stats.epoch}: loss {stats.loss:.5f} lr {stats.lr:.3g} "
            f"({stats.seconds:.1f} s, {stats.images_per_s:.0f} img/s)",
            flush=True,
        )


class PipelineJob(Checkpointable):
    """The pipeline for one recipe, in the MLflow run ``run_id``. ``stages``: ``all``,
    ``pretrain`` (the first job of an ``afterok`` chain) or ``evaluate`` (the second)."""

    def __init__(
        self,
        recipe_path: str,
        source: str,
        run_id: str,
        cwd: str,
        env: dict[str, str],
        stages: str = "all",
    ) -> None:
        self.recipe_path = recipe_path
        self.source = source
        self.run_id = run_id
        self.cwd = cwd
        self.env = env
        self.stages = stages

    def __call__(self) -> dict[str, float] | None:
        os.chdir(self.cwd)
        os.environ.update(self.env)
        cpus = os.environ.get("SLURM_CPUS_PER_TASK")
        from sslctl.distributed import init
        from sslctl.recipe import load_recipe

        recipe = load_recipe(Path(self.recipe_path), [])
        if cpus and recipe.runtime.threads is None:
            import torch

            torch.set_num_threads(int(cpus))
        ctx = init()
        try:
            if ctx.is_main:
                return self._main(recipe, ctx.world_size)
            _follow(recipe)
            return None
        finally:
            ctx.cleanup()

    def _main(self, recipe: Any, world: int) -> dict[str, float]:
        from sslctl.pipeline import run_pipeline
        from sslctl.progress import PlainReporter
        from sslctl.tracking import Tracker
        from sslctl.vocabulary import Tag

        tracker = Tracker()
        evaluating = self.stages == "evaluate"
        tags = {
            Tag.SLURM_EVAL_JOB_ID if evaluating else Tag.SLURM_JOB_ID: os.environ.get(
                "SLURM_JOB_ID", ""
            ),
            Tag.SLURM_EVAL_REQUEUES if evaluating else Tag.SLURM_REQUEUES: os.environ.get(
                "SLURM_RESTART_COUNT", "0"
            ),
        }
        if not evaluating:
            tags[Tag.WORLD_SIZE] = str(world)
            tags[Tag.SLURM_NODES] = os.environ.get("SLURM_JOB_NUM_NODES", "1")
        tracker.set_tags(self.run_id, tags)
        start = time.time()
        result = run_pipeline(
            recipe,
            source=self.source,
            tracker=tracker,
            run_id=self.run_id,
            reporter=LogReporter(),
            say=lambda m: print(m, flush=True),
            stages=self.stages,
            progress=PlainReporter().progress_of,
        )
        print(f"pipeline finished in {time.time() - start:.0f} s; run {result.run_id}", flush=True)
        return result.metrics

    def checkpoint(self, *args: Any, **kwargs: Any) -> DelayedSubmission:
        """Preempted or timed out: requeue this callable; it resumes from the last epoch's
        checkpoint (written atomically by rank 0 after every epoch)."""
        print("signal received: requeueing; will resume from the last checkpoint", flush=True)
        sys.stdout.flush()
        return DelayedSubmission(self, *args, **kwargs)


def _follow(recipe: Any) -> None:
    """Ranks other than 0: pretraining only, from the same checkpoint as rank 0."""
    from sslctl.data import load_dataset
    from sslctl.paths import run_folder
    from sslctl.recipe import recipe_hash
    from sslctl.runtime import torch_threads
    from sslctl.stages import setup_trainer

    dataset = load_dataset(
        recipe.data.name, root=recipe.data.root, download=False, image_size=recipe.data.image_size
    )
    trainer = setup_trainer(recipe, dataset, run_folder(recipe_hash(recipe)))
    with torch_threads(recipe.runtime.threads):
        trainer.resume()
        trainer.fit()
