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
# The mechanism study (docs/mechanism.md): a grid for `valence-sweep`; SEEDS and OUT on the command line override it.
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

.PHONY: help deps plot-deps build test bench bench-codec compare ablation mechanism sweep run step init status generate verify split weight update eval report clean
.PHONY: slurm-run slurm-status test-slurm kill-test fuzz tensorboard test-tensorboard

help: ## Show targets and variables
	@echo "Valence: PSR / NSR / W-REINFORCE on a tabular policy, staged over zstd JSONL shards."
	@echo
	@echo "Main commands:"
	@echo "  make compare     THE MAIN JOB: every objective, WINDOW=0 and 1, 60 steps -> $(OUT)/report.md, passk.svg, training.svg"
	@echo "  make ablation    psr/nsr/w-reinforce x {sgd,adam} x {M=1,4} x {no clip, clip 0.2} x 3 seeds -> $(ABLATION_OUT)/report.md"
	@echo "  make mechanism   psr/nsr/w-reinforce/grpo x G 2..128 + expected mode x {adam,sgd} x WINDOW 0,1 x 3 seeds -> runs/mechanism/report.md"
	@echo "  make sweep GRID=data/grids/NAME.json [SET='steps=20'] [AXES='seed=1,2,3'] [OUT=dir]   any grid of runs (docs/sweep.md)"
	@echo "  make test        build and run all tests (installs libzstd-dev if missing)"
	@echo "  make bench       release build; stage throughput, memory and scaling vs targets -> bench/results.json"
	@echo "  make bench-codec decode only: Valence's rollout decoders vs simdjson On-Demand (ns, instructions/record)"
	@echo "  make kill-test   SIGKILL the in-process step and the stages at 60 seeded points each; recovery must be byte-identical"
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
	@echo "  make tensorboard RUN=runs/NAME | RUNS=runs/compare   TensorBoard event files in RUN/tb/ (docs/tensorboard.md)"
	@echo
	@echo "Install (docs/install.md):"
	@echo "  make install PREFIX=/usr/local [DESTDIR=...]   static binaries, man pages, completions, pipelines scripts"
	@echo "  make uninstall PREFIX=/usr/local [DESTDIR=...] remove exactly those files"
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

test: deps ## Build and run every test: unit, property, end-to-end (through this Makefile), one-node Slurm, install
	$(SWIFT) build --build-tests
	@Tests/docs/self-contained.sh
	@$(MAKE) --no-print-directory CONFIG=debug NO_BUILD=1 test-slurm
	@$(MAKE) --no-print-directory CONFIG=debug NO_BUILD=1 test-tensorboard
	@$(MAKE) --no-print-directory CONFIG=debug NO_BUILD=1 test-install
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

# Grids of runs (docs/sweep.md): each runs N at a time in-process (SWEEP_JOBS, default: the CPUs),
# resumes, shows progress and ends with the grid's report.
SWEEP_JOBS ?=
SWEEP = $(BIN)/valence-sweep $(if $(SWEEP_JOBS),--jobs $(SWEEP_JOBS))
GRID ?=
SET  ?=
AXES ?=

compare: build plot-deps ## THE MAIN JOB: all objectives in both regimes; writes $(OUT)/report.md, figures, passk.csv
	@$(SWEEP) data/grids/compare.json --out $(OUT) --axis 'seed=$(SEEDS)' --axis 'objective=$(OBJECTIVES)' \
	  --samples $(SAMPLES) -- --steps $(STEPS) --shards $(SHARDS) $(SWITCH_FLAGS)

ablation: build ## psr/nsr/w-reinforce over {sgd,adam} x {M=1,4} x {no clip, clip 0.2}, 3 seeds -> $(ABLATION_OUT)/report.md
	@$(SWEEP) data/grids/ablation.json --out $(ABLATION_OUT) --axis 'seed=$(ABLATION_SEEDS)' \
	  --axis 'objective=$(ABLATION_OBJECTIVES)' --axis 'optimizer=$(ABLATION_OPTIMS)' \
	  --axis 'minibatches=$(ABLATION_MINIBATCHES)' --axis 'clip=$(ABLATION_CLIPS)' -- $(ABLATION_FLAGS)

sweep: build ## Run the grid in GRID=file (SET='key=value ...', AXES='key=v1,v2 ...', OUT=dir); then its report
	@test -n "$(GRID)" || { echo "set GRID=FILE (a grid file, e.g. data/grids/compare.json)" >&2; exit 64; }
	@$(SWEEP) $(GRID) $(if $(filter command line,$(origin OUT)),--out $(OUT)) $(foreach s,$(SET),--set '$(s)') $(foreach a,$(AXES),--axis '$(a)')

mechanism: build ## NSR - PSR against group size G and expected mode (grid $(MECHANISM_GRID)) -> runs/mechanism/report.md
	@$(SWEEP) $(MECHANISM_GRID) $(if $(filter command line,$(origin OUT)),--out $(OUT)) \
	  $(if $(filter command line environment,$(origin SEEDS)),--axis 'seed=$(SEEDS)')

run: build ## One run, created if needed and resumed from its last complete step
	@pipelines/run.sh $(RUN) $(INIT_FLAGS)

init: build ## Create the run directory only
	@$(BIN)/valence-init --run $(RUN) $(INIT_FLAGS)

# step builds only when a binary is missing: cron has no swift on PATH, and `swift build` would
# wait on SwiftPM's lock instead of letting an overlapping call say "busy" at once. After changing
# the code, run `make build` (or `make run`, which always builds).
STEP_BINS := $(BIN)/valence-step
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

# TensorBoard event files from metrics.jsonl (docs/tensorboard.md): RUN=dir for one run, RUNS=dir for
# every run below dir. Then: tensorboard --logdir <dir> (pip install tensorboard; not needed here).
tensorboard: build ## Write RUN/tb/ event files for TensorBoard: make tensorboard RUN=runs/x or RUNS=runs/compare
	@$(BIN)/valence-tensorboard $(if $(RUNS),--under $(RUNS),$(RUN))

# Reads the event files of a small run with TensorBoard's own EventAccumulator and compares every
# value and step with metrics.jsonl. Installs the tensorboard Python package (pip) if missing: only
# this test needs it, never the pipeline.
TB_CHECK_RUN ?= .build/tb-check/run
test-tensorboard: build
	@python3 -c 'import tensorboard' 2>/dev/null || python3 -m pip install -q tensorboard
	@rm -rf $(dir $(TB_CHECK_RUN)) && mkdir -p $(dir $(TB_CHECK_RUN))
	@VALENCE_BIN=$(abspath $(BIN)) pipelines/run.sh $(TB_CHECK_RUN) --steps 3 --digits 2 --train 200 --test 100 \
	  --batch 16 --corpus 2000 --eval-train >$(TB_CHECK_RUN).log 2>&1 || { cat $(TB_CHECK_RUN).log; exit 1; }
	@$(BIN)/valence-eval --run $(TB_CHECK_RUN) --step 3 --samples 256 --quiet
	@$(BIN)/valence-tensorboard $(TB_CHECK_RUN)
	@python3 Tests/tensorboard/check_events.py $(TB_CHECK_RUN)

slurm-run: build ## Submit the rest of RUN to Slurm (job arrays over SHARDS) and return; resubmitting resumes
	@pipelines/slurm/submit.sh $(RUN) $(INIT_FLAGS)

slurm-status: build ## Where a Slurm run is: valence-status, its queued jobs, failed jobs with their logs
	@pipelines/slurm/status.sh $(RUN)

test-slurm: build ## Install Slurm if missing, start a one-node cluster, run 3 steps x 4 shards, compare, stop
	@pipelines/slurm/test.sh

KILL_POINTS ?= 60
KILL_SEED   ?= 1
KILL_JOBS   ?= 1
KILL_MODES  ?= in-process stages
kill-test: build ## Fault injection: SIGKILL a step (in-process) and the stages at KILL_POINTS seeded points each, check byte-identical recovery
	@for mode in $(KILL_MODES); do \
	  Tests/fault/kill-test.sh --points $(KILL_POINTS) --seed $(KILL_SEED) --jobs $(KILL_JOBS) --mode $$mode --bin $(BIN) || exit 1; \
	done

FUZZ_RUNS ?= 1000000
FUZZ_SEED ?= 1
fuzz: deps ## Fuzz the shard decoder and the verifier with libFuzzer for FUZZ_RUNS inputs
	@Tests/fuzz/fuzz.sh --runs $(FUZZ_RUNS) --seed $(FUZZ_SEED)

clean: ## Remove build products, the static install build too (runs/ are kept)
	$(SWIFT) package clean
	rm -rf $(STATIC_SCRATCH)

# ---- Install (docs/install.md) -------------------------------------------------------------------
# Release binaries with the Swift standard library and Foundation linked in (--static-swift-stdlib),
# built in their own scratch path so the everyday .build/ stays valid; man pages rendered by
# swift-argument-parser's generate-manual tool from each command's own definitions; bash, zsh and
# fish completions from --generate-completion-script; the pipelines scripts, pointed at PREFIX/bin.
PREFIX  ?= /usr/local
DESTDIR ?=
STATIC_SCRATCH ?= .build-static
STATIC_BIN := $(STATIC_SCRATCH)/release
STAGE_DIR  := $(STATIC_SCRATCH)/install-tree
# The installed commands: Package.swift's `stages` (the pipeline); its `tools` (valence-bench-codec,
# a developer benchmark that needs the checkout's bench/ and simdjson) are not installed.
INSTALL_STAGES := $(shell sed -n 's/^let stages = \[\(.*\)\]$$/\1/p' Package.swift | tr -d '",')
INSTALL_BINS   := $(addprefix valence-,$(INSTALL_STAGES))
MAN_DATE ?= $(shell git log -1 --format=%cs 2>/dev/null || date +%F)
# Where the installed files go, relative to PREFIX (uninstall removes exactly these).
INSTALLED_FILES = $(addprefix bin/,$(INSTALL_BINS)) $(addprefix share/man/man1/,$(addsuffix .1,$(INSTALL_BINS))) \
  $(addprefix share/bash-completion/completions/,$(INSTALL_BINS)) \
  $(addprefix share/zsh/site-functions/_,$(INSTALL_BINS)) \
  $(addprefix share/fish/vendor_completions.d/,$(addsuffix .fish,$(INSTALL_BINS)))
PIPELINES_DIR := share/valence/pipelines
GRIDS_DIR := share/valence/grids

.PHONY: build-static install-tree install uninstall test-install self-contained

build-static: deps ## Release binaries with the Swift runtime linked statically, in $(STATIC_SCRATCH)/ (for install; NO_BUILD=1 uses them as they are)
	@test -n "$(INSTALL_STAGES)" || { echo "build-static: no 'let stages = [...]' line in Package.swift" >&2; exit 1; }
ifeq ($(NO_BUILD),)
	@set -o pipefail; $(SWIFT) build -c release --static-swift-stdlib --scratch-path $(STATIC_SCRATCH) 2>&1 \
	  | { grep -vE '^(\[[0-9]+/[0-9]+\]|Building for|Write |Compiling|Planning|Fetching|Computing|Creating working|Working copy)|mktemp. is dangerous' || true; }
	@set -o pipefail; $(SWIFT) build -c release --static-swift-stdlib --scratch-path $(STATIC_SCRATCH) --product generate-manual 2>&1 \
	  | { grep -vE '^(\[[0-9]+/[0-9]+\]|Building for|Write |Compiling|Planning|Fetching|Computing|Creating working|Working copy)|mktemp. is dangerous' || true; }
endif
	@test -x $(STATIC_BIN)/generate-manual || { echo "build-static: $(STATIC_BIN)/generate-manual: not built (run: make build-static)" >&2; exit 1; }
	@for b in $(INSTALL_BINS); do \
	  test -x $(STATIC_BIN)/$$b || { echo "build-static: $(STATIC_BIN)/$$b: not built" >&2; exit 1; }; \
	  if ldd $(STATIC_BIN)/$$b | grep -q 'libswift\|libFoundation\|libdispatch\|libBlocksRuntime'; then \
	    echo "build-static: $(STATIC_BIN)/$$b still loads the Swift runtime:" >&2; ldd $(STATIC_BIN)/$$b >&2; exit 1; fi; \
	done

# generate-manual's page, finished: it lists the `help` subcommand the parser adds to every root
# command (a "subcommand" argument in SYNOPSIS, a `help` item in DESCRIPTION), which these
# single commands do not take; EXIT STATUS gets Valence's codes; SEE ALSO the other commands.
MAN_FIXUP = sed -i -e '/^\.Sh SYNOPSIS$$/,/^\.Sh /{/^\.Ar subcommand$$/d;}' -e '/^\.It Em help$$/,/^\.El$$/d' \
  -e '/^\.Ex -std$$/r docs/man/exit-status.mdoc' $(1) && \
  { echo '.Sh "SEE ALSO"'; for o in $(INSTALL_BINS); do [ "$$o" = "$(2)" ] || echo ".Xr $$o 1 ,"; done \
    | sed '$$s/ ,$$//'; } >>$(1)

# The tree under PREFIX, staged in $(STAGE_DIR) (stripped binaries, man pages, completions, scripts).
install-tree: build-static
	@rm -rf $(STAGE_DIR) && mkdir -p $(STAGE_DIR)/bin $(STAGE_DIR)/share/man/man1 \
	  $(STAGE_DIR)/share/bash-completion/completions $(STAGE_DIR)/share/zsh/site-functions \
	  $(STAGE_DIR)/share/fish/vendor_completions.d $(STAGE_DIR)/$(PIPELINES_DIR) $(STAGE_DIR)/$(GRIDS_DIR)
	@set -e; for b in $(INSTALL_BINS); do \
	  strip -o $(STAGE_DIR)/bin/$$b $(STATIC_BIN)/$$b 2>/dev/null || cp $(STATIC_BIN)/$$b $(STAGE_DIR)/bin/$$b; \
	  $(STATIC_BIN)/generate-manual $(STAGE_DIR)/bin/$$b --date $(MAN_DATE) --output-directory $(STAGE_DIR)/share/man/man1; \
	  $(call MAN_FIXUP,$(STAGE_DIR)/share/man/man1/$$b.1,$$b); \
	  $(STAGE_DIR)/bin/$$b --generate-completion-script bash >$(STAGE_DIR)/share/bash-completion/completions/$$b; \
	  $(STAGE_DIR)/bin/$$b --generate-completion-script zsh  >$(STAGE_DIR)/share/zsh/site-functions/_$$b; \
	  $(STAGE_DIR)/bin/$$b --generate-completion-script fish >$(STAGE_DIR)/share/fish/vendor_completions.d/$$b.fish; \
	done
	@# The scripts find the binaries relative to themselves: .build/release in a checkout, PREFIX/bin here.
	@cp -R pipelines/. $(STAGE_DIR)/$(PIPELINES_DIR)/
	@cp data/grids/*.json $(STAGE_DIR)/$(GRIDS_DIR)/
	@find $(STAGE_DIR)/$(PIPELINES_DIR) -type f -exec sed -i \
	  -e 's|$$HERE/\.\./\.\./\.build/release|$$HERE/../../../../bin|g' -e 's|$$HERE/\.\./\.build/release|$$HERE/../../../bin|g' {} +
	@! grep -rn 'HERE/[./]*\.build' $(STAGE_DIR)/$(PIPELINES_DIR) \
	  || { echo "install: the scripts above still point into the build tree" >&2; exit 1; }
	@for f in $(INSTALLED_FILES); do test -s $(STAGE_DIR)/$$f || { echo "install: $$f was not generated" >&2; exit 1; }; done

install: install-tree ## Install into $(DESTDIR)$(PREFIX): bin/valence-*, man pages, completions, share/valence/pipelines (NO_BUILD=1: no swift build, e.g. under sudo)
	@set -e; cd $(STAGE_DIR) && find . -type f | sort | while read -r f; do \
	  mode=644; [ -x "$$f" ] && mode=755; install -D -m $$mode "$$f" "$(DESTDIR)$(PREFIX)/$${f#./}"; done
	@echo "install: $(words $(INSTALL_BINS)) commands in $(DESTDIR)$(PREFIX)/bin, man pages, completions, $(DESTDIR)$(PREFIX)/$(PIPELINES_DIR)"

uninstall: ## Remove what `make install` put under $(DESTDIR)$(PREFIX) (same PREFIX and DESTDIR)
	@test -n "$(INSTALL_STAGES)" || { echo "uninstall: no 'let stages = [...]' line in Package.swift" >&2; exit 1; }
	@rm -f $(addprefix $(DESTDIR)$(PREFIX)/,$(INSTALLED_FILES))
	@rm -rf $(DESTDIR)$(PREFIX)/$(PIPELINES_DIR) $(DESTDIR)$(PREFIX)/$(GRIDS_DIR)
	@rmdir $(DESTDIR)$(PREFIX)/share/valence 2>/dev/null || true
	@echo "uninstall: removed valence-* (commands, man pages, completions), $(PIPELINES_DIR) and $(GRIDS_DIR) from $(DESTDIR)$(PREFIX)"

test-install: build ## make install into a temporary prefix, then drive it with Swift hidden (root: man, zsh, fish checks)
	@missing=""; command -v man >/dev/null || missing="$$missing man-db"; \
	command -v zsh >/dev/null || missing="$$missing zsh"; command -v fish >/dev/null || missing="$$missing fish"; \
	who=test-install; if [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null; then $(APT_INSTALL); fi
	@Tests/install/test-install.sh

self-contained: ## Fail when a tracked file points outside the repository (a spec or a path out of the tree, a broken Markdown link)
	@Tests/docs/self-contained.sh
