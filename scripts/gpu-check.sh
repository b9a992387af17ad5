#!/usr/bin/env bash
# The GPU check (`make gpu-check`): the CUDA tests, then benchmarks/gpu_check.py. Runs with
# $PYTHON (default python3) from this checkout, no install needed: on a CUDA machine
# without a package registry, fetch what its image lacks first, where pip works, with
# scripts/gpu-wheels.sh (into .whl/), bring .whl/ along, and this installs it into a
# temporary folder. Logs and gpu_check.json go to $OUT (default: here).
set -uo pipefail
python=${PYTHON:-python3}
out=${OUT:-.}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
    site=$(mktemp -d /tmp/sslctl-site.XXXX)
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --target "$site" .whl/*.whl || exit 2
    export PYTHONPATH="$site:$PYTHONPATH"
fi
"$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')" || exit 2
"$python" -c "import sslctl.recipe, litdata, simplejpeg" || {
    echo "missing packages: pip install -e . here, or scripts/gpu-wheels.sh where pip works" >&2
    exit 2
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$out/gpu-smi.txt"
"$python" -m pytest -q -p no:cacheprovider -rs tests/data/test_feed.py \
    tests/data/stream/test_device_decode.py tests/methods/test_cuda.py 2>&1 | tee "$out/gpu-tests.log"
tests=${PIPESTATUS[0]}
"$python" benchmarks/gpu_check.py --out "$out/gpu_check.json" 2>&1 | tee "$out/gpu-check.log"
bench=${PIPESTATUS[0]}
echo "gpu-check: tests exit $tests, benchmark exit $bench; figures in $out/gpu_check.json"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
