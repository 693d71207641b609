# Valence: make is the user interface. `make help` lists targets and variables.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# ---- Variables (all have defaults; override on the command line) -------------------------------
RUN        ?= runs/default
OBJECTIVE  ?= w-reinforce
STEPS      ?= 60
SEED       ?= 1
WINDOW     ?= 0
OPTIM      ?= adam
LR         ?=
LAMBDA     ?= 0.1
# Update switches (docs/objectives.md); the defaults are the plain step.
MINIBATCHES ?= 1
CLIP       ?= off
ENTROPY    ?= 0
KL         ?= 0
WD         ?=
GRAD_CLIP  ?= off
CRITIC_LR  ?= 0.5
FILTER_GROUPS ?= 0
# sampled: G rollouts per prompt; expected: their exact expectation (SPEC 8, docs/mechanism.md).
ROLLOUTS   ?= sampled
BATCH      ?= 64
GROUP      ?= 8
DIGITS     ?= 3
TRAIN      ?= 2000
TEST       ?= 1000
CORPUS     ?= 20000
ALPHA      ?= 0.5
FORGET     ?= 0.5
NOISE      ?= 0.1
EVAL_TEMP  ?= 1
SHARDS     ?= 1
STEP       ?=
SHARD      ?=
# Shards processed at once; follows `make -jN` when given.
JOBS       ?= $(or $(patsubst -j%,%,$(filter -j%,$(MAKEFLAGS))),1)
CONFIG     ?= release
NO_BUILD   ?=
OUT        ?= runs/compare
SEEDS      ?= 1
SAMPLES    ?= 1024
OBJECTIVES ?= psr nsr w-reinforce reinforce grpo rloo dr-grpo topr ppo
ABLATION_OUT   ?= runs/ablation
ABLATION_SEEDS ?= 1 2 3
ABLATION_OBJECTIVES  ?= psr nsr w-reinforce
ABLATION_OPTIMS      ?= sgd adam
ABLATION_MINIBATCHES ?= 1 4
ABLATION_CLIPS       ?= off 0.2
# The mechanism study (docs/mechanism.md): a grid file; SEEDS and OUT given on the command line override it.
MECHANISM_GRID ?= data/grids/mechanism.json

SWIFT      ?= swift
BIN        := .build/$(CONFIG)
export VALENCE_BIN := $(abspath $(BIN))

INIT_FLAGS = --objective $(OBJECTIVE) --steps $(STEPS) --seed $(SEED) --window $(WINDOW) \
  --optimizer $(OPTIM) $(if $(LR),--lr $(LR)) --lambda $(LAMBDA) --batch $(BATCH) --group $(GROUP) \
  --digits $(DIGITS) --train $(TRAIN) --test $(TEST) --corpus $(CORPUS) --alpha $(ALPHA) \
  --forget $(FORGET) --noise $(NOISE) --eval-temperature $(EVAL_TEMP) --shards $(SHARDS) $(SWITCH_FLAGS)
SWITCH_FLAGS = --minibatches $(MINIBATCHES) $(if $(filter-out off,$(CLIP)),--clip $(CLIP)) \
  --entropy-coef $(ENTROPY) --kl-coef $(KL) $(if $(WD),--weight-decay $(WD)) \
  $(if $(filter-out off,$(GRAD_CLIP)),--grad-clip $(GRAD_CLIP)) --critic-lr $(CRITIC_LR) \
  $(if $(filter 1 yes true on,$(FILTER_GROUPS)),--filter-groups) $(if $(filter-out sampled,$(ROLLOUTS)),--rollouts $(ROLLOUTS))
# The regime the ablation runs on (its grid sets the optimizer, minibatches and clip itself).
ABLATION_FLAGS = --steps $(STEPS) --shards $(SHARDS) --window $(WINDOW) --lambda $(LAMBDA) --batch $(BATCH) \
  --group $(GROUP) --digits $(DIGITS) --train $(TRAIN) --test $(TEST) --corpus $(CORPUS)

.PHONY: help deps plot-deps build test bench bench-codec compare ablation mechanism run step init status generate verify split weight update eval report clean
.PHONY: slurm-run slurm-status test-slurm kill-test fuzz

help: ## Show targets and variables
	@echo "Valence: PSR / NSR / W-REINFORCE on a tabular policy, staged over zstd JSONL shards."
	@echo
	@echo "Main commands:"
	@echo "  make compare     THE MAIN JOB: every objective, WINDOW=0 and 1, 60 steps -> $(OUT)/report.md, passk.svg, training.svg"
	@echo "  make ablation    psr/nsr/w-reinforce x {sgd,adam} x {M=1,4} x {no clip, clip 0.2} x 3 seeds -> $(ABLATION_OUT)/report.md"
	@echo "  make mechanism   psr/nsr/w-reinforce/grpo x G 2..128 + expected mode x {adam,sgd} x WINDOW 0,1 x 3 seeds -> runs/mechanism/report.md"
	@echo "  make test        build and run all tests (installs libzstd-dev if missing)"
	@echo "  make bench       release build; stage throughput, memory and scaling vs targets -> bench/results.json"
	@echo "  make bench-codec decode only: Valence's rollout decoders vs simdjson On-Demand (ns, instructions/record)"
	@echo "  make kill-test   SIGKILL stages at 60 seeded points; recovery must be byte-identical"
	@echo "  make fuzz        1M libFuzzer inputs through the shard decoder and the verifier"
	@echo
	@echo "Runs:"
	@echo "  make run RUN=runs/NAME OBJECTIVE=nsr STEPS=60 SEED=1 WINDOW=0 OPTIM=adam LR=0.03 ...   one run, resumable"
	@echo "  make step RUN=runs/NAME        advance a run by exactly one step (cron-safe, locked)"
	@echo "  make status RUN=runs/NAME      where the run is"
	@echo "  (cron: see pipelines/cron.example; reliability: docs/reliability.md)"
	@echo "  make init RUN=...              create the run directory only"
	@echo "  make generate|verify|split|weight RUN=... STEP=N [SHARD=i]   one stage by hand"
	@echo "  make update|eval RUN=... STEP=N"
	@echo "  make report OUT=dir RUNS='runs/a runs/b'"
	@echo
	@echo "Slurm (docs/slurm.md):"
	@echo "  make slurm-run RUN=... SHARDS=4 STEPS=...   submit the rest of a run as job arrays and return"
	@echo "  make slurm-status RUN=...                    where it is (valence-status, squeue, failed jobs)"
	@echo "  make test-slurm                              a real one-node Slurm cluster: run, compare, stop (root)"
	@echo
	@echo "Variables (default):"
	@echo "  RUN=$(RUN) OBJECTIVE=$(OBJECTIVE) (psr nsr reinforce w-reinforce grpo rloo dr-grpo topr ppo) STEPS=$(STEPS)"
	@echo "  SEED=$(SEED) WINDOW=$(WINDOW) OPTIM=$(OPTIM) (sgd|adam|adamw) LR=<0.03 adam(w), 1.0 sgd> LAMBDA=$(LAMBDA)"
	@echo "  switches: MINIBATCHES=$(MINIBATCHES) CLIP=$(CLIP) (epsilon|off) ENTROPY=$(ENTROPY) KL=$(KL) WD=<0.01 with adamw>"
	@echo "  GRAD_CLIP=$(GRAD_CLIP) (norm|off) CRITIC_LR=$(CRITIC_LR) (ppo) FILTER_GROUPS=$(FILTER_GROUPS) (1: drop uniform groups)"
	@echo "  ROLLOUTS=$(ROLLOUTS) (sampled|expected: the exact expected gradient, SPEC 8; docs/mechanism.md)"
	@echo "  BATCH=$(BATCH) GROUP=$(GROUP) DIGITS=$(DIGITS) TRAIN=$(TRAIN) TEST=$(TEST) CORPUS=$(CORPUS)"
	@echo "  ALPHA=$(ALPHA) FORGET=$(FORGET) NOISE=$(NOISE) EVAL_TEMP=$(EVAL_TEMP)"
	@echo "  SHARDS=$(SHARDS) (shards per step) JOBS=<from make -j, else 1> (shards at once)"
	@echo "  compare: OUT=$(OUT) SEEDS='$(SEEDS)' OBJECTIVES='$(OBJECTIVES)' SAMPLES=$(SAMPLES) (sampled Pass@k, 0 = off)"
	@echo "  ablation: ABLATION_OUT=$(ABLATION_OUT) ABLATION_SEEDS='$(ABLATION_SEEDS)' ABLATION_OBJECTIVES='$(ABLATION_OBJECTIVES)'"
	@echo "    ABLATION_OPTIMS='$(ABLATION_OPTIMS)' ABLATION_MINIBATCHES='$(ABLATION_MINIBATCHES)' ABLATION_CLIPS='$(ABLATION_CLIPS)'"
	@echo "    (the regime comes from STEPS WINDOW BATCH GROUP DIGITS TRAIN TEST CORPUS LAMBDA)"
	@echo "  CONFIG=$(CONFIG) (release|debug build used by the targets)"

deps: ## Install the system packages Valence needs (libzstd-dev; zstd and jq for inspecting shards)
	@missing=""; \
	[ -f /usr/include/zstd.h ] || missing="$$missing libzstd-dev"; \
	command -v zstd >/dev/null || missing="$$missing zstd"; \
	command -v jq >/dev/null || missing="$$missing jq"; \
	command -v flock >/dev/null || missing="$$missing util-linux"; \
	who=deps; $(APT_INSTALL)

# Shell text that installs the Debian packages in $$missing (if any) with apt-get, as root or through
# sudo, naming the target $$who in its messages; without apt-get it says what is missing and fails.
APT_INSTALL = if [ -n "$$missing" ]; then \
	  echo "$$who: installing$$missing"; \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || { echo "$$who: apt-get could not install$$missing; install it by hand" >&2; exit 1; }; \
	  elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then \
	    (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || { echo "$$who: apt-get could not install$$missing; install it by hand" >&2; exit 1; }; \
	  else \
	    echo "$$who: missing$$missing and no apt-get here; install them with your package manager" >&2; exit 1; \
	  fi; \
	fi

plot-deps: ## Try to install rsvg-convert (librsvg2-bin) for PNG copies of the figures; never fails
	@command -v rsvg-convert >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librsvg2-bin fonts-dejavu-core >/dev/null 2>&1) \
	  || echo "plot-deps: rsvg-convert unavailable; figures stay SVG only"; } || true

build: deps ## Build the valence-* executables ($(CONFIG)); NO_BUILD=1 uses the binaries as they are
ifeq ($(NO_BUILD),)
	@set -o pipefail; $(SWIFT) build -c $(CONFIG) 2>&1 \
	  | { grep -vE '^(\[[0-9]+/[0-9]+\]|Building for|Write |Compiling|Planning|Fetching|Computing|Creating working|Working copy)' || true; }
endif
	@test -x $(BIN)/valence-eval || { echo "build: failed (see: $(SWIFT) build -c $(CONFIG))" >&2; exit 1; }

test: deps ## Build and run every test: unit, property, end-to-end (through this Makefile) and on a one-node Slurm cluster
	$(SWIFT) build --build-tests
	@$(MAKE) --no-print-directory CONFIG=debug NO_BUILD=1 test-slurm
	$(SWIFT) test --skip-build

bench: ## Release build, then stage throughput/RSS/scaling vs targets and Python; writes bench/results.json
	@$(MAKE) --no-print-directory build CONFIG=release
	@python3 -c 'import orjson, zstandard' 2>/dev/null || python3 -m pip install -q zstandard orjson
	@VALENCE_BIN=$(abspath .build/release) python3 bench/bench.py

# Decode-only comparison behind docs/performance.md, "Codec choice: simdjson measured". Not part of
# `make test` or CI: libsimdjson-dev (and g++, jq, valgrind) are needed only here, and only
# bench/simdjson/decode.cpp links it. -O3 without -march=native, like a portable build; the same
# program built with -march=native is timed as an extra row (simdjson's On-Demand code is compiled
# for the build's target, so without AVX2 at compile time it uses its generic kernel).
CODEC_REPS  ?= 5
CALLGRIND   ?= 1
CODEC_SHARD ?=
CODEC_CXX   ?= g++
CODEC_CXXFLAGS ?= -std=c++17 -O3 -DNDEBUG
bench-codec: ## simdjson On-Demand vs Valence's decoders on the same lines: ns and instructions per record
	@missing=""; \
	[ -f /usr/include/simdjson.h ] || missing="$$missing libsimdjson-dev"; \
	command -v $(CODEC_CXX) >/dev/null || missing="$$missing g++"; \
	command -v jq >/dev/null || missing="$$missing jq"; \
	command -v zstd >/dev/null || missing="$$missing zstd"; \
	if [ "$(CALLGRIND)" = 1 ]; then command -v valgrind >/dev/null || missing="$$missing valgrind"; fi; \
	who=bench-codec; $(APT_INSTALL)
	@$(MAKE) --no-print-directory build CONFIG=release
	@mkdir -p .build/bench-codec
	$(CODEC_CXX) $(CODEC_CXXFLAGS) -o .build/bench-codec/decode bench/simdjson/decode.cpp -lsimdjson -lzstd
	$(CODEC_CXX) $(CODEC_CXXFLAGS) -march=native -o .build/bench-codec/decode-native bench/simdjson/decode.cpp -lsimdjson -lzstd
	@VALENCE_BIN=$(abspath .build/release) DECODE=$(abspath .build/bench-codec/decode) \
	  DECODE_NATIVE=$(abspath .build/bench-codec/decode-native) REPS=$(CODEC_REPS) CALLGRIND=$(CALLGRIND) \
	  CODEC_SHARD=$(CODEC_SHARD) python3 bench/simdjson/compare.py

compare: build plot-deps ## THE MAIN JOB: all objectives in both regimes; writes $(OUT)/report.md, figures, passk.csv
	@OBJECTIVES="$(OBJECTIVES)" SEEDS="$(SEEDS)" SAMPLES="$(SAMPLES)" pipelines/compare.sh $(OUT) --steps $(STEPS) --shards $(SHARDS) $(SWITCH_FLAGS)

ablation: build ## psr/nsr/w-reinforce over {sgd,adam} x {M=1,4} x {no clip, clip 0.2}, 3 seeds -> $(ABLATION_OUT)/report.md
	@SEEDS="$(ABLATION_SEEDS)" OBJECTIVES="$(ABLATION_OBJECTIVES)" OPTIMIZERS="$(ABLATION_OPTIMS)" \
	  MINIBATCHES="$(ABLATION_MINIBATCHES)" CLIPS="$(ABLATION_CLIPS)" pipelines/ablation.sh $(ABLATION_OUT) $(ABLATION_FLAGS)

mechanism: build ## NSR - PSR against group size G and expected mode (grid $(MECHANISM_GRID)) -> runs/mechanism/report.md
	@$(if $(filter command line environment,$(origin SEEDS)),SEEDS="$(SEEDS)") \
	  pipelines/grid.sh $(MECHANISM_GRID) $(if $(filter command line environment,$(origin OUT)),$(OUT))

run: build ## One run, created if needed and resumed from its last complete step
	@pipelines/run.sh $(RUN) $(INIT_FLAGS)

init: build ## Create the run directory only
	@$(BIN)/valence-init --run $(RUN) $(INIT_FLAGS)

# step builds only when a binary is missing: cron has no swift on PATH, and `swift build` would
# wait on SwiftPM's lock instead of letting an overlapping call say "busy" at once. After changing
# the code, run `make build` (or `make run`, which always builds).
STEP_BINS := $(addprefix $(BIN)/valence-,status generate verify split weight update eval)
step: $(if $(filter-out $(wildcard $(STEP_BINS)),$(STEP_BINS)),build) ## Advance RUN by exactly one step (locked; cron-safe)
	@JOBS=$(JOBS) pipelines/step.sh $(RUN)

status: build
	@$(BIN)/valence-status --run $(RUN)

need-step:
	@test -n "$(STEP)" || { echo "set STEP=N (the step to run)" >&2; exit 64; }

generate verify split weight: build need-step ## One sharded stage by hand
	@$(BIN)/valence-$@ --run $(RUN) --step $(STEP) --jobs $(JOBS) $(if $(SHARD),--shard $(SHARD))

update eval: build need-step ## One whole-step stage by hand
	@$(BIN)/valence-$@ --run $(RUN) --step $(STEP)

report: build ## Compare finished runs: make report OUT=dir RUNS='runs/a runs/b'
	@$(BIN)/valence-report --out $(OUT) $(RUNS)

slurm-run: build ## Submit the rest of RUN to Slurm (job arrays over SHARDS) and return; resubmitting resumes
	@pipelines/slurm/submit.sh $(RUN) $(INIT_FLAGS)

slurm-status: build ## Where a Slurm run is: valence-status, its queued jobs, failed jobs with their logs
	@pipelines/slurm/status.sh $(RUN)

test-slurm: build ## Install Slurm if missing, start a one-node cluster, run 3 steps x 4 shards, compare, stop
	@pipelines/slurm/test.sh

KILL_POINTS ?= 60
KILL_SEED   ?= 1
KILL_JOBS   ?= 1
kill-test: build ## Fault injection: SIGKILL stages at KILL_POINTS seeded points (KILL_JOBS shards at once), check byte-identical recovery
	@Tests/fault/kill-test.sh --points $(KILL_POINTS) --seed $(KILL_SEED) --jobs $(KILL_JOBS) --bin $(BIN)

FUZZ_RUNS ?= 1000000
FUZZ_SEED ?= 1
fuzz: deps ## Fuzz the shard decoder and the verifier with libFuzzer for FUZZ_RUNS inputs
	@Tests/fuzz/fuzz.sh --runs $(FUZZ_RUNS) --seed $(FUZZ_SEED)

clean: ## Remove build products (runs/ are kept)
	$(SWIFT) package clean
