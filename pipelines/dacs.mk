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
#   make -f pipelines/dacs.mk demo SEEDS="0 1 2"
#                                         (every method once per seed, and
#                                          their mean and standard deviation)
#   make -f pipelines/dacs.mk demo-mic demo-rcs report
#                                         (DACS with MIC, DACS with RCS, in
#                                          the table beside plain DACS)
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
    MPI THREADS OPTIMIZER WARMUP POWER IGNORE_TOP IGNORE_BOTTOM IGNORE_LEFT \
    IGNORE_RIGHT MIC MIC_BLOCK MIC_RATIO MIC_LAMBDA RCS RCS_MIN_PIXELS \
    RCS_MIN_CROP_RATIO EVAL_MODE
train_opts = $(foreach v,$(TRAIN_VARS),$(if $($(v)),--$(subst _,-,$(shell echo $(v) | tr A-Z a-z)) $($(v))))

.PHONY: train demo demo-runs demo-quick report clean-demo
train:
	@test -n "$(RUN)" || { echo "dacs.mk: set RUN=DIR" >&2; exit 1; }
	@test -n "$(TARGET)" || { echo "dacs.mk: set TARGET=DIR (the target dataset root)" >&2; exit 1; }
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
# the seed of the synth-city data, the same for every training seed
DEMO_DATA_SEED ?= 0
# SEEDS="0 1 2": the demo's runs once per training seed, in
# $(DEMO_RUNS)/seed-S, and one report over them, each method's mean and
# sample standard deviation, in $(DEMO_RUNS)/seeds (DAFormer's authors
# answer reproduction questions with "average three seeds").  Empty (the
# default): one run per method, of DEMO_SEED, in $(DEMO_RUNS).
SEEDS      ?=
DEMO_GEN   ?=
DEMO_OPTS  ?= --crop 256x128 --width 16 --lr 0.01 --head-lr-mult 1 \
              --tau 0.9 --eval-every 1000 --sample-every 500
DEMO_JOBS  ?= 2
DEMO_MODES := source naive dacs oracle
demo_train = dacs-train --source $(DEMO_DATA)/source \
    --target $(DEMO_DATA)/target \
    --threads $(if $(filter 1,$(DEMO_JOBS)),2,1) --seed $(DEMO_SEED) $(DEMO_OPTS)

$(DEMO_DATA)/.done:
	rm -rf $(DEMO_DATA)
	mkdir -p $(dir $(DEMO_DATA))
	synth-city --seed $(DEMO_DATA_SEED) $(DEMO_GEN) --sheet $(dir $(DEMO_DATA))synth-city.png $(DEMO_DATA)
	touch $@

$(DEMO_RUNS)/source/.done $(DEMO_RUNS)/oracle/.done: $(DEMO_RUNS)/%/.done: $(DEMO_DATA)/.done
	$(demo_train) --mode $* --iters $(DEMO_SRC_ITERS) $(@D)
	touch $@

$(DEMO_RUNS)/naive/.done $(DEMO_RUNS)/dacs/.done: $(DEMO_RUNS)/%/.done: $(DEMO_RUNS)/source/.done
	$(demo_train) --mode $* --init $(DEMO_RUNS)/source/student.tns \
	    --iters $(DEMO_ITERS) $(@D)
	touch $@

# DACS with MIC and DACS with RCS (dacs-method(7), "Later work"): the
# DACS run with the options of one stage more, from the same source-only
# model, in $(DEMO_RUNS)/dacs-mic and dacs-rcs, which dacs-report puts
# beside plain DACS.  Not part of `make demo` unless named in
# DEMO_VARIANTS (make demo DEMO_VARIANTS="mic rcs").  The references'
# settings scaled to synth-city's 512x256 images: MIC masks 64-pixel
# blocks of 2048x1024 Cityscapes images (1/32 of the width: 16 pixels
# here); DAFormer draws an image for a class from 3000 of its pixels of a
# 1914x1052 GTA5 image (the same share of 512x256: 200).  The rest are
# the references' defaults: ratio 0.7, lambda 1, T 0.01, crop ratio 0.5.
DEMO_MIC_OPTS ?= --mic 1 --mic-block 16
DEMO_RCS_OPTS ?= --rcs 0.01 --rcs-min-pixels 200
DEMO_VARIANTS ?=
$(DEMO_RUNS)/dacs-mic/.done $(DEMO_RUNS)/dacs-rcs/.done: $(DEMO_RUNS)/dacs-%/.done: $(DEMO_RUNS)/source/.done
	$(demo_train) --mode dacs --init $(DEMO_RUNS)/source/student.tns \
	    --iters $(DEMO_ITERS) $(DEMO_$(if $(filter mic,$*),MIC,RCS)_OPTS) $(@D)
	touch $@

demo-runs: $(DEMO_MODES:%=$(DEMO_RUNS)/%/.done) \
    $(DEMO_VARIANTS:%=$(DEMO_RUNS)/dacs-%/.done)

# one method of the demo alone (naive, dacs and the variants train source
# first)
.PHONY: $(DEMO_MODES:%=demo-%) demo-mic demo-rcs
$(DEMO_MODES:%=demo-%): demo-%: $(DEMO_RUNS)/%/.done
demo-mic demo-rcs: demo-%: $(DEMO_RUNS)/dacs-%/.done

ifeq ($(strip $(SEEDS)),)
demo_all = $(MAKE) --no-print-directory -f $(lastword $(MAKEFILE_LIST)) \
	-j$(DEMO_JOBS) demo-runs && dacs-report --data $(DEMO_DATA) $(DEMO_RUNS)
else
demo_all = for s in $(SEEDS); do \
	$(MAKE) --no-print-directory -f $(lastword $(MAKEFILE_LIST)) \
	    -j$(DEMO_JOBS) demo-runs DEMO_RUNS=$(DEMO_RUNS)/seed-$$s \
	    DEMO_SEED=$$s SEEDS= || exit 1; \
	done && dacs-report --data $(DEMO_DATA) -o $(DEMO_RUNS)/seeds \
	    $(foreach s,$(SEEDS),$(DEMO_RUNS)/seed-$(s))
endif

demo:
	@start=$$(date +%s); \
	$(demo_all) && \
	echo "dacs.mk: demo finished in $$(( ($$(date +%s) - start) / 60 )) min $$(( ($$(date +%s) - start) % 60 )) s"

demo-quick:
	$(MAKE) -f $(lastword $(MAKEFILE_LIST)) demo DEMO_DATA=data/synth-city-quick \
	    DEMO_RUNS=runs/demo-quick DEMO_SRC_ITERS=300 DEMO_ITERS=200 \
	    DEMO_GEN="--source 100 --train 100 --val 40" \
	    DEMO_OPTS="--crop 256x128 --width 16 --lr 0.01 --head-lr-mult 1 --tau 0.9 --eval-every 100 --sample-every 100"

ifeq ($(strip $(SEEDS)),)
report:
	dacs-report --data $(DEMO_DATA) $(DEMO_RUNS)
else
report:
	dacs-report --data $(DEMO_DATA) -o $(DEMO_RUNS)/seeds \
	    $(foreach s,$(SEEDS),$(DEMO_RUNS)/seed-$(s))
endif

clean-demo:
	rm -rf $(DEMO_RUNS) runs/demo-quick $(DEMO_DATA) data/synth-city-quick
