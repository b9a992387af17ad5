"""The recipe schema: typed, validated models for every field of a YAML recipe.

Every block forbids unknown keys, so a typo is an error rather than a silently ignored
setting. The ``method`` block is the exception: its keys are the keyword
hyper-parameters of the loss function (``sslctl.methods``), checked against that
function's signature by :func:`sslctl.recipe.load.resolve_method`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
Severity = Annotated[int, Field(ge=1, le=5)]


class Block(BaseModel):
    """A recipe block: unknown keys are errors, assignments are re-validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


def _ordered_pair(value: tuple[float, float], what: str) -> tuple[float, float]:
    low, high = value
    if low > high:
        raise ValueError(f"{what} must be [low, high] with low <= high")
    return value


class DataConfig(Block):
    """The pretraining dataset (also the in-domain evaluation data)."""

    name: str = "mnist5k"
    root: str | None = None
    download: bool = False
    image_size: PositiveInt | None = Field(
        None,
        description="side of the training crops and evaluation images of a streamed "
        "(shards:) set, default 224; resizes an in-memory set when given",
    )
    workers: NonNegativeInt | None = Field(
        None, description="DataLoader workers decoding a streamed set (default: CPUs, max 8)"
    )
    decode: Literal["workers", "device"] = Field(
        "workers",
        description="where a streamed set's JPEGs are decoded: in the DataLoader workers "
        "(libjpeg-turbo) or on the training device (nvJPEG on CUDA; the workers only read "
        "the bytes and draw the crop boxes)",
    )

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        from sslctl.data import available_datasets, is_known_dataset
        from sslctl.data.catalog import is_streamed

        if not is_known_dataset(name):
            raise ValueError(f"unknown dataset; expected one of {available_datasets()}")
        if is_streamed(name):
            from sslctl.data.stream.manifest import manifest_problem

            problem = manifest_problem(name)
            if problem is not None:
                raise ValueError(problem)
        return name

    @model_validator(mode="after")
    def _decode_streamed(self) -> DataConfig:
        from sslctl.data.catalog import is_streamed

        if self.decode == "device" and not is_streamed(self.name):
            raise ValueError(
                f"decode: 'device' applies to a streamed (shards:) set, not {self.name!r}; "
                "expected decode: workers"
            )
        return self


class ModelConfig(Block):
    """The backbone (encoder) whose features are evaluated."""

    backbone: Literal["resnet-mini", "resnet18", "resnet50"] = "resnet-mini"
    width: PositiveInt = Field(32, description="base channel count of resnet-mini")
    cifar_stem: bool = Field(True, description="3x3 stem without max-pool (torchvision resnets)")


class ProjectorConfig(Block):
    """MLP projector: ``depth`` linear layers (0 = no projector, 1 = one linear map)."""

    depth: NonNegativeInt = 3
    width: PositiveInt = 1024
    out_dim: PositiveInt = 1024
    batchnorm: bool = True
    activation: Literal["relu", "gelu", "silu", "tanh", "leaky_relu"] = "relu"
    last_bias: bool = False
    frozen: bool = False
    lr_scale: PositiveFloat = Field(
        1.0,
        description="factor on the learning rate of the projector's parameters (a per-width "
        "rule: Adam's hidden-layer lr ~ 1/fan_in, Yang et al. 2021, muP)",
    )


class MethodConfig(BaseModel):
    """The SSL loss: ``name`` plus the loss function's keyword hyper-parameters."""

    model_config = ConfigDict(extra="allow", validate_assignment=True, allow_inf_nan=False)

    name: str = "vicreg"

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        from sslctl.methods import available

        if name not in available():
            raise ValueError(f"unknown method; expected one of {available()}")
        return name

    def params(self) -> dict[str, Any]:
        """The hyper-parameters passed to ``sslctl.methods.build_loss``."""
        return dict(self.model_extra or {})


class OptimConfig(Block):
    """Optimiser and schedule (linear warm-up, then cosine decay to zero)."""

    name: Literal["adamw", "adam", "sgd", "lars"] = "adamw"
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-4
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    batch_size: Annotated[int, Field(ge=2)] = 256
    epochs: PositiveInt = 20
    warmup_epochs: NonNegativeInt = 2
    scale_lr: bool = Field(False, description="use lr * batch_size / 256 (the papers' rule)")
    grad_clip: NonNegativeFloat | None = None

    @model_validator(mode="after")
    def _warmup_shorter(self) -> OptimConfig:
        if self.warmup_epochs > self.epochs:
            raise ValueError(
                f"warmup_epochs ({self.warmup_epochs}) must be <= epochs ({self.epochs})"
            )
        return self


class AugmentConfig(Block):
    """Batched two-view augmentation policy (same policy for both views)."""

    crop_scale: tuple[Probability, Probability] = (0.3, 1.0)
    crop_ratio: tuple[PositiveFloat, PositiveFloat] = (0.75, 4 / 3)
    rotation: Annotated[float, Field(ge=0, le=180)] = 10.0
    shear: Annotated[float, Field(ge=0, le=45)] = 0.0
    flip: Probability = 0.0
    jitter: Probability = 0.8
    brightness: NonNegativeFloat = 0.4
    contrast: NonNegativeFloat = 0.4
    saturation: NonNegativeFloat = 0.0
    hue: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    grayscale: Probability = 0.0
    blur: Probability = 0.5
    blur_sigma: tuple[PositiveFloat, PositiveFloat] = (0.1, 2.0)
    blur_kernel: PositiveInt | None = Field(
        None,
        description="odd number of taps; default 10% of the side (SimCLR) but at least "
        "2*ceil(3*max sigma)+1, at most the side",
    )
    solarize: Probability = 0.0
    noise: Probability = 0.0
    noise_std: NonNegativeFloat = 0.1

    @field_validator("crop_scale", "crop_ratio", "blur_sigma")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        return _ordered_pair(value, "range")

    @field_validator("blur_kernel")
    @classmethod
    def _odd(cls, value: int | None) -> int | None:
        if value is not None and value % 2 == 0:
            raise ValueError(f"got {value}; expected an odd number of taps (3, 5, 7, ...)")
        return value


class LinearEvalConfig(Block):
    """Linear probe on frozen, cached, standardised features."""

    enabled: bool = True
    on: list[Literal["backbone", "projector"]] = ["backbone"]
    epochs: PositiveInt = 100
    lr: PositiveFloat = 1e-3
    weight_decay: NonNegativeFloat = 1e-4
    batch_size: PositiveInt = 256


class OODConfig(Block):
    """Out-of-domain sets; the in-domain linear head is applied unchanged. An entry is a
    name (``digits``, ``<dataset>-c``, a dataset), a folder of ``<class>/*`` images
    (``/data/mine`` or ``imagefolder:/data/mine``; ``<folder>-c`` its corruptions), or a
    one-key mapping ``{short name: entry}`` (:mod:`sslctl.data.oodsets`)."""

    datasets: list[str | dict[str, str]] = ["digits", "mnist5k-c"]
    severities: list[Severity] = [1, 2, 3, 4, 5]
    corruptions: list[str] | None = None

    @field_validator("datasets")
    @classmethod
    def _known(cls, entries: list[str | dict[str, str]]) -> list[str | dict[str, str]]:
        from sslctl.data import is_known_ood

        def source_ok(source: str) -> bool:
            path = "/" in source or source.startswith("~") or source.endswith(".npz")
            return is_known_ood(source) or path

        bad = [
            e
            for e in entries
            if (isinstance(e, str) and not source_ok(e))
            or (isinstance(e, dict) and (len(e) != 1 or not source_ok(next(iter(e.values())))))
        ]
        if bad:
            raise ValueError(
                f"unknown OOD dataset(s) {bad}; expected 'digits', '<dataset>-c', a dataset "
                "name, a folder path, or a one-key mapping {short name: one of these}"
            )
        return entries


class KNNConfig(Block):
    """Weighted kNN classification on the same cached features (cosine, exp(sim/T) votes)."""

    enabled: bool = True
    k: PositiveInt = 20
    temperature: PositiveFloat = 0.07


class IndependenceConfig(Block):
    """Pairwise independence (HSIC) of representation features on held-out samples."""

    enabled: bool = True
    on: list[Literal["backbone", "projector"]] = ["backbone"]
    pairs: PositiveInt = Field(256, description="random pairs of distinct features")
    samples: Annotated[int, Field(ge=8)] = Field(1000, description="held-out samples used")
    subset: Annotated[int, Field(ge=2)] = Field(4, description="features in the dHSIC test")
    permutations: NonNegativeInt = Field(0, description="> 0 adds permutation p-values")
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] | None = Field(
        None, description="pair/sample draw; default the recipe seed"
    )


class SpectrumConfig(Block):
    """Embedding-covariance spectrum: effective rank, condition number, collapse."""

    enabled: bool = True
    every: NonNegativeInt = Field(0, description="epochs between spectra; 0 = only at the end")


class ProbeConfig(Block):
    """A cheap probe of the backbone on cached features during pretraining (learning
    curves, and what sweeps prune on): a short linear probe (eval.linear's optimiser) or
    a weighted kNN."""

    every: NonNegativeInt = Field(0, description="epochs between probes; 0 = off")
    kind: Literal["linear", "knn"] = "linear"
    epochs: PositiveInt = Field(20, description="linear: epochs of the cached-feature probe")
    k: PositiveInt = Field(20, description="knn: neighbours")


class EvalConfig(Block):
    """Evaluations chained after pretraining."""

    linear: LinearEvalConfig = LinearEvalConfig()
    knn: KNNConfig = KNNConfig()
    independence: IndependenceConfig = IndependenceConfig()
    spectrum: SpectrumConfig = SpectrumConfig()
    probe: ProbeConfig = ProbeConfig()
    ood: OODConfig = OODConfig()
    baselines: bool = Field(True, description="also evaluate raw pixels and a random-init backbone")


class RuntimeConfig(Block):
    """Where and how the computation runs; does not change what is computed."""

    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    channels_last: bool = True
    compile: bool = False
    threads: PositiveInt | None = None
    data_on_device: Literal["auto", "always", "never"] = Field(
        "auto",
        description="GPU: keep the uint8 training set on the device (auto: if it takes under "
        "a quarter of free memory) or in pinned host memory with non-blocking copies",
    )
    checkpoint_every: PositiveInt = Field(1, description="epochs between checkpoints")
    checkpoint_steps: NonNegativeInt = Field(
        0, description="also checkpoint every this many steps inside an epoch (0: never)"
    )


class LauncherConfig(Block):
    """Where the pipeline is launched (not part of the recipe hash). The SLURM fields
    become sbatch options through submitit (``sslctl.launch.resources``)."""

    kind: Literal["local", "slurm"] = "local"
    nodes: PositiveInt = 1
    gpus_per_node: NonNegativeInt = Field(0, description="GPUs per node; one task per GPU")
    tasks_per_node: PositiveInt | None = Field(
        None, description="DDP processes per node; default gpus_per_node, or 1 on CPU"
    )
    cpus_per_task: PositiveInt | None = None
    partition: str | None = None
    time: str = Field("04:00:00", description="SLURM time limit: MM, HH:MM:SS or D-HH:MM:SS")
    mem: str | None = Field(None, description="memory per node, e.g. 32G")
    chain: Literal["single", "afterok"] = Field(
        "single",
        description="single: every stage in one job; afterok: pretraining, then the "
        "evaluations as a one-task job that starts when pretraining succeeded",
    )
    sbatch: dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")], str | int | bool] = Field(
        default_factory=dict, description="additional sbatch options, e.g. {account: abc}"
    )

    @field_validator("time", mode="before")
    @classmethod
    def _quoted_time(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML reads an unquoted 4:00:00 as the base-60 number 14400
            raise ValueError(
                "expected a quoted SLURM time such as '04:00:00' or '240' (minutes); an "
                "unquoted H:MM:SS is read by YAML as a number of seconds"
            )
        return value

    @field_validator("time")
    @classmethod
    def _slurm_time(cls, value: str) -> str:
        from sslctl.recipe.durations import time_minutes

        time_minutes(value)  # raises ValueError with the accepted formats
        return value

    @field_validator("mem")
    @classmethod
    def _slurm_mem(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+[KMGT]?", value):
            raise ValueError("expected a number with an optional unit K, M, G or T, e.g. 32G")
        return value

    @field_validator("partition", "sbatch")
    @classmethod
    def _script_safe(cls, value: Any) -> Any:
        values = value.values() if isinstance(value, dict) else [value]
        for item in values:
            if isinstance(item, str) and re.search(r"[\s'\"`$\\#;]", item):
                raise ValueError(
                    f"got {item!r}; SLURM values are written into the job script and cannot "
                    "hold spaces, quotes, '$', '`', '\\', '#' or ';'"
                )
        return value

    @model_validator(mode="after")
    def _one_task_per_gpu(self) -> LauncherConfig:
        if self.gpus_per_node and self.tasks_per_node not in (None, self.gpus_per_node):
            raise ValueError(
                f"launcher.tasks_per_node: got {self.tasks_per_node} with gpus_per_node "
                f"{self.gpus_per_node}; expected one task per GPU (leave it unset)"
            )
        return self


class Recipe(Block):
    """A complete, resolved experiment description."""

    experiment: Annotated[str, Field(min_length=1, max_length=200)] = "default"
    seed: Annotated[int, Field(ge=0, le=2**32 - 1)] = Field(
        0, description="at most 2^32 - 1 (NumPy's range; torch's generators take seed*100003+epoch)"
    )
    data: DataConfig = DataConfig()
    model: ModelConfig = ModelConfig()
    projector: ProjectorConfig = ProjectorConfig()
    method: MethodConfig = MethodConfig()
    optim: OptimConfig = OptimConfig()
    augment: AugmentConfig = AugmentConfig()
    eval: EvalConfig = EvalConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    launcher: LauncherConfig = LauncherConfig()

    @model_validator(mode="after")
    def _projector_needed(self) -> Recipe:
        if self.projector.depth == 0 and self.projector.frozen:
            raise ValueError(
                "projector.depth: got 0 with projector.frozen: true; a frozen projector "
                "needs depth >= 1 (depth 0 means no projector)"
            )
        if self.projector.depth == 0 and "projector" in self.eval.linear.on:
            raise ValueError(
                "projector.depth: got 0 but eval.linear.on includes 'projector'; "
                "expected depth >= 1 or eval.linear.on: [backbone]"
            )
        return self
