#!/usr/bin/env bash
# The wheels sslctl's GPU check needs beyond a CUDA machine's PyTorch image (torch,
# torchvision, numpy, pillow, pyyaml, rich, typer, pytest, requests, tifffile,
# lightning-utilities already there), fetched here for that machine's Python, so that a
# machine without a package registry can install them: scripts/gpu-check.sh does.
#   scripts/gpu-wheels.sh [DEST=.whl] [PYTHON_VERSION=3.12]
# Versions: those installed in this checkout's .venv (what the suite ran with).
set -euo pipefail
dest=${1:-.whl}
pyver=${2:-3.12}
venv_python=${VENV_PYTHON:-.venv/bin/python}
# sslctl's own needs for the check (pydantic for recipes; litdata + simplejpeg for streamed
# data) and what litdata imports at start (its S3 client: boto3, obstore)
names=(pydantic pydantic_core annotated_types typing_inspection litdata simplejpeg
       boto3 botocore s3transfer jmespath obstore)
pins=()
for name in "${names[@]}"; do
    version=$("$venv_python" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
    pins+=("$name==$version")
done
mkdir -p "$dest"
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$pyver" \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 --platform any -d "$dest" "${pins[@]}"
du -sh "$dest"
ls "$dest"
