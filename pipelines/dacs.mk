# pipelines/dacs.mk - drive dacs runs from make.
#
# One run (resumes if RUN exists; every dacs-train option is a variable):
#   make -f pipelines/dacs.mk train RUN=runs/gta2cs \
#        SOURCE=/data/gta5 TARGET=/data/cityscapes \
#        SOURCE_RESIZE=1280x720 TARGET_RESIZE=1024x512 CROP=512x512
#
# The demo on the built-in synth-city benchmark: source-only, AdaBN,
# naive ClassMix, DACS and the oracle, then a report:
#   make -f pipelines/dacs.mk demo        (13-16 minutes on 2 cores)
#   make -f pipelines/dacs.mk demo-quick  (a first look, a few minutes)
#   make -f pipelines/dacs.mk demo-dacs   (one method: demo-source,
#                                          demo-naive, demo-dacs, demo-oracle)
#   make -f pipelines/dacs.mk report      (the table and pictures again)
#
# Interrupted runs resume: run the same make command again.

# The tools of DACS_BIN if set; else, from a checkout, those of its bin/;
# installed, those on PATH.
DACS_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
ifneq ($(DACS_BIN),)
export PATH := $(DACS_BIN):$(DACS_TOP)/pipelines:$(PATH)
else ifneq ($(wildcard $(DACS_TOP)/bin/seg-step),)
export PATH := $(DACS_TOP)/bin:$(DACS_TOP)/pipelines:$(PATH)
endif

# ---- one run ----
RUN    ?=
MODE   ?= dacs
SOURCE ?=
TARGET ?=
# any dacs-train option, as NAME=value (e.g. LR=0.01 ITERS=40000): every
# option of dacs-train but --mode, --source and --target (above), and no
# other (tests/bats/dacs-train.bats holds the two lists together)
TRAIN_VARS := SOURCE_TYPE SOURCE_SPLIT SOURCE_RESIZE SOURCE_MAP EXCLUDE \
    TARGET_TYPE TARGET_SPLIT TARGET_RESIZE TARGET_MAP TARGET_EXCLUDE \
    VAL VAL_TYPE VAL_SPLIT VAL_EXCLUDE CROP SCALE FLIP BATCH NET DEPTH STYLE WIDTH \
    CLASSES INIT LR ITERS HEAD_LR_MULT TAU WEIGHT MIX KEEP_IGNORE POOL \
    JITTER BLUR MIX_FLIP TEACHER_BN ALPHA SEED EVAL_EVERY EVAL_RESIZE \
    EVAL_LIMIT EVAL_BN SAMPLE_EVERY SNAPSHOT_EVERY CHECKPOINT_EVERY RING \
    MPI THREADS
train_opts = $(foreach v,$(TRAIN_VARS),$(if $($(v)),--$(subst _,-,$(shell echo $(v) | tr A-Z a-z)) $($(v))))

.PHONY: train demo demo-runs demo-quick report clean-demo
train:
	@test -n "$(RUN)" || { echo "dacs.mk: set RUN=DIR" >&2; exit 1; }
	dacs-train --mode $(MODE) $(if $(SOURCE),--source $(SOURCE)) \
	    --target $(TARGET) $(train_opts) $(RUN)

# ---- the demo ----
# Source-only and the oracle train from scratch for DEMO_SRC_ITERS
# iterations.  Naive ClassMix and DACS then start from the source-only
# model (dacs-train --init) and adapt for DEMO_ITERS more: from scratch,
# a width-16 network's teacher is too poor for its pseudo-labels to help
# within the budget (README.md, "What the demo measured").  Every method
# shares DEMO_OPTS; only --mode differs.  tau 0.9 instead of 0.968: the
# small network is less confident, and 0.968 keeps too few target pixels
# early on.  head-lr-mult 1: there is no pretrained backbone to protect.
DEMO_DATA  ?= data/synth-city
DEMO_RUNS  ?= runs/demo
DEMO_SRC_ITERS ?= 3000
DEMO_ITERS ?= 2000
DEMO_SEED  ?= 0
DEMO_GEN   ?=
DEMO_OPTS  ?= --crop 256x128 --width 16 --lr 0.01 --head-lr-mult 1 \
              --tau 0.9 --eval-every 1000 --sample-every 500 --seed $(DEMO_SEED)
DEMO_JOBS  ?= 2
DEMO_MODES := source naive dacs oracle
demo_train = dacs-train --source $(DEMO_DATA)/source \
    --target $(DEMO_DATA)/target \
    --threads $(if $(filter 1,$(DEMO_JOBS)),2,1) $(DEMO_OPTS)

$(DEMO_DATA)/.done:
	rm -rf $(DEMO_DATA)
	mkdir -p $(dir $(DEMO_DATA))
	synth-city --seed $(DEMO_SEED) $(DEMO_GEN) --sheet $(dir $(DEMO_DATA))synth-city.png $(DEMO_DATA)
	touch $@

$(DEMO_RUNS)/source/.done $(DEMO_RUNS)/oracle/.done: $(DEMO_RUNS)/%/.done: $(DEMO_DATA)/.done
	$(demo_train) --mode $* --iters $(DEMO_SRC_ITERS) $(@D)
	touch $@

$(DEMO_RUNS)/naive/.done $(DEMO_RUNS)/dacs/.done: $(DEMO_RUNS)/%/.done: $(DEMO_RUNS)/source/.done
	$(demo_train) --mode $* --init $(DEMO_RUNS)/source/student.tns \
	    --iters $(DEMO_ITERS) $(@D)
	touch $@

demo-runs: $(DEMO_MODES:%=$(DEMO_RUNS)/%/.done)

# one method of the demo alone (naive and dacs train source first)
.PHONY: $(DEMO_MODES:%=demo-%)
$(DEMO_MODES:%=demo-%): demo-%: $(DEMO_RUNS)/%/.done

demo:
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -f $(lastword $(MAKEFILE_LIST)) -j$(DEMO_JOBS) demo-runs && \
	dacs-report --data $(DEMO_DATA) $(DEMO_RUNS) && \
	echo "dacs.mk: demo finished in $$(( ($$(date +%s) - start) / 60 )) min $$(( ($$(date +%s) - start) % 60 )) s"

demo-quick:
	$(MAKE) -f $(lastword $(MAKEFILE_LIST)) demo DEMO_DATA=data/synth-city-quick \
	    DEMO_RUNS=runs/demo-quick DEMO_SRC_ITERS=300 DEMO_ITERS=200 \
	    DEMO_GEN="--source 100 --train 100 --val 40" \
	    DEMO_OPTS="--crop 256x128 --width 16 --lr 0.01 --head-lr-mult 1 --tau 0.9 --eval-every 100 --sample-every 100"

report:
	dacs-report --data $(DEMO_DATA) $(DEMO_RUNS)

clean-demo:
	rm -rf $(DEMO_RUNS) runs/demo-quick $(DEMO_DATA) data/synth-city-quick
