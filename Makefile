# dacs - domain adaptation by cross-domain mixed sampling, as Unix filters.
#
#   make                 build build/libdacs.a and every tool into bin/
#   make check           build and run every test (C unit tests and Bats)
#   make check SAN=1     the same under AddressSanitizer + UBSan (build/san)
#   make check-torch     seg-import/seg-export against live PyTorch (needs
#                        python3-torch; never part of make check)
#   make bench           throughput figures, network and whole iterations
#                        (see tests/bench)
#   make fuzz            libFuzzer targets, FUZZ_SECONDS each (clang)
#   make valgrind        a short DACS run under valgrind memcheck
#   make demo            install dependencies, build, and run the full demo
#   make install PREFIX=/usr/local DESTDIR=
#
# Dependencies are found with pkg-config: libpng, zlib, openblas, libzip
# (PyTorch zip and NumPy .npz files), jansson (safetensors headers).
# Optional: Open MPI (pkg-config ompi-c; libopenmpi-dev and openmpi-bin)
# for data-parallel training: when found (or with MPI=1) bin/mpi-hub is
# built, the one MPI process of each rank (mpi-hub(1)); MPI=0 leaves it
# out.  Nothing else links MPI.
#
# lib/ is built in wings, each a folder, each allowed to use only the wings
# before it in this order (lib/README says what each holds; the test
# tests/bats/layering.bats fails when an #include breaks the order):
WINGS := base io data nn dacs synth

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/dacs
PKG_CONFIG ?= pkg-config
PKGS := libpng zlib openblas libzip jansson

MPI_PKG := ompi-c
MPI     ?= $(shell $(PKG_CONFIG) --exists $(MPI_PKG) && echo 1)

CC      ?= cc
OPT     ?= -O2
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?=
DX_CFLAGS = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) -Ilib \
            $(shell $(PKG_CONFIG) --cflags $(PKGS)) $(CFLAGS)
DX_LDLIBS = $(shell $(PKG_CONFIG) --libs $(PKGS)) -lm -lpthread $(LDLIBS)

ifeq ($(SAN),1)
BUILD   := build/san
OPT     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
LIBA    := $(BUILD)/libdacs.a
BIN     := $(BUILD)/bin
else
BUILD   := build
LIBA    := $(BUILD)/libdacs.a
BIN     := bin
endif

LIB_SRC   := $(foreach w,$(WINGS),$(wildcard lib/$(w)/*.c))
LIB_OBJ   := $(LIB_SRC:lib/%.c=$(BUILD)/obj/%.o)
TOOL_SRC  := $(wildcard tools/*.c)
ifneq ($(MPI),1)
TOOL_SRC  := $(filter-out tools/mpi-hub.c,$(TOOL_SRC))
endif
TOOLS     := $(TOOL_SRC:tools/%.c=$(BIN)/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
REPLAYS   := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/replay/%)
MAN1      := $(wildcard man/man1/*.1)
MAN5      := $(wildcard man/man5/*.5)
MAN7      := $(wildcard man/man7/*.7)
SCRIPTS   := pipelines/dacs-train pipelines/dacs-report pipelines/dacs-plot

.PHONY: all check check-torch unit bench demo demo-quick install uninstall \
        clean fuzz deps valgrind
.SUFFIXES:
.DELETE_ON_ERROR:

all: $(LIBA) $(TOOLS)

# -MMD: each object, tool and test also writes the headers it read into
# a .d file under $(BUILD)/dep, included at the end.
DEPS = -MMD -MP -MF $(BUILD)/dep/$(subst /,.,$@).d

$(BUILD)/obj/%.o: lib/%.c | $(BUILD)/dep
	@mkdir -p $(@D)
	$(CC) $(DX_CFLAGS) $(DEPS) -c -o $@ $<

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: tools/%.c $(LIBA) | $(BIN) $(BUILD)/dep
	$(CC) $(DX_CFLAGS) $(DEPS) $(LDFLAGS) -o $@ $< $(LIBA) $(DX_LDLIBS)

# the one tool that includes mpi.h
$(BIN)/mpi-hub: tools/mpi-hub.c $(LIBA) | $(BIN) $(BUILD)/dep
	$(CC) $(DX_CFLAGS) $(shell $(PKG_CONFIG) --cflags $(MPI_PKG)) $(DEPS) \
	    $(LDFLAGS) -o $@ $< $(LIBA) $(DX_LDLIBS) \
	    $(shell $(PKG_CONFIG) --libs $(MPI_PKG))

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(LIBA) | $(BUILD)/tests $(BUILD)/dep
	$(CC) $(DX_CFLAGS) $(DEPS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIBA) $(DX_LDLIBS)

# The fuzz targets' entry points, driven by a plain main over the seed
# corpus and every crash input kept in tests/fuzz/regress.
$(BUILD)/replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBA) | $(BUILD)/replay $(BUILD)/dep
	$(CC) $(DX_CFLAGS) $(DEPS) $(LDFLAGS) -o $@ $< tests/fuzz/replay.c $(LIBA) $(DX_LDLIBS)

$(BUILD)/tests $(BUILD)/replay $(BUILD)/dep $(BIN):
	mkdir -p $@

# Every test, summed into one closing line "N passed, N failed".  The
# Debian packages the build and the tests need are installed first when
# missing (pipelines/install-deps).
check: deps
	@$(MAKE) --no-print-directory all $(UNITS) $(REPLAYS)
	@DACS_BIN=$(abspath $(BIN)) DACS_UNIT=$(abspath $(BUILD)/tests) \
	    DACS_REPLAY=$(abspath $(BUILD)/replay) DACS_SAN=$(SAN) tests/run

# The PyTorch tier: seg-import and seg-export both ways against live
# PyTorch (Debian's python3-torch, run as /usr/bin/python3); its own
# closing line "N passed, N failed".  make check never needs PyTorch.
check-torch: all
	@DACS_BIN=$(abspath $(BIN)) OPENBLAS_NUM_THREADS=2 \
	    /usr/bin/python3 tests/ref/import_check_torch.py

# Coverage-guided fuzzing with libFuzzer (clang): each target for
# FUZZ_SECONDS, new inputs kept in build/fuzz/corpus, crashes in
# build/fuzz/crashes.
FUZZ_SECONDS ?= 60
FUZZ_CC  ?= clang
FUZZ_OPT := -g -O1 -fno-omit-frame-pointer \
            -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_SAN := address,undefined
FUZZ_OBJ := $(LIB_SRC:lib/%.c=build/fuzz/obj/%.o)
FUZZERS  := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/bin/%)

build/fuzz/obj/%.o: lib/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE $(FUZZ_OPT) -MMD -MP -Ilib \
	    -fsanitize=fuzzer-no-link,$(FUZZ_SAN) \
	    $(shell $(PKG_CONFIG) --cflags $(PKGS)) -c -o $@ $<

build/fuzz/libdacs.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

build/fuzz/bin/%: tests/fuzz/%.c build/fuzz/libdacs.a | build/fuzz/bin
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE $(FUZZ_OPT) -Ilib \
	    -fsanitize=fuzzer,$(FUZZ_SAN) -o $@ $< build/fuzz/libdacs.a \
	    $(shell $(PKG_CONFIG) --libs $(PKGS)) -lm -lpthread

build/fuzz/bin:
	mkdir -p $@

fuzz: $(FUZZERS)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run $(FUZZERS)

# A short end-to-end DACS run with every tool under valgrind memcheck.
valgrind: all
	@DACS_BIN=$(abspath $(BIN)) tests/valgrind-run

# the network tools (tests/bench/run), whole DACS iterations: the ring,
# one pipeline per iteration, in process and PyTorch (tests/bench/loop);
# then, when built with MPI, the gradient sum over 2 local ranks
# (tests/bench/allreduce)
bench: all
	@DACS_BIN=$(abspath $(BIN)) tests/bench/run
	@DACS_BIN=$(abspath $(BIN)) tests/bench/loop
	@DACS_BIN=$(abspath $(BIN)) tests/bench/allreduce

deps:
	@pipelines/install-deps

demo: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -f pipelines/dacs.mk demo

demo-quick: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory -f pipelines/dacs.mk demo-quick

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 \
	    $(DESTDIR)$(DATADIR)/pipelines/maps
	install -m 755 $(TOOLS) $(SCRIPTS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN5) $(DESTDIR)$(MANDIR)/man5
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	install -m 644 pipelines/dacs.mk $(DESTDIR)$(DATADIR)/pipelines
	install -m 644 pipelines/maps/*.map $(DESTDIR)$(DATADIR)/pipelines/maps

uninstall:
	rm -f $(TOOLS:$(BIN)/%=$(DESTDIR)$(BINDIR)/%)
	rm -f $(MAN1:man/man1/%=$(DESTDIR)$(MANDIR)/man1/%)
	rm -f $(MAN5:man/man5/%=$(DESTDIR)$(MANDIR)/man5/%)
	rm -f $(MAN7:man/man7/%=$(DESTDIR)$(MANDIR)/man7/%)
	rm -f $(SCRIPTS:pipelines/%=$(DESTDIR)$(BINDIR)/%)
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build bin

-include $(wildcard $(BUILD)/dep/*.d build/fuzz/obj/*/*.d)
