# SPDX-License-Identifier: GPL-2.0
#
# gup_stall selftests, built outside a kernel tree.
#
#   make               build (gcc, -Wall -Werror; make CC=clang for clang)
#   make run_tests     run the suite on the running kernel (KTAP)
#   make vmtest KERNEL=debian-6.12
#                      run the suite in QEMU on another kernel
#                      (debian-6.1, debian-6.12, debian-6.1-rt,
#                      debian-6.12-rt, debian-6.12-cloud, a bzImage or a
#                      kernel tree; scripts/vmtest.sh -h)
#   make check         the project's own test: builds, negative controls,
#                      the suite, restored settings, unprivileged run
#   make install       copy the programs and the runner to INSTALL_PATH
#   make clean
#
# KDIR=<kernel tree> takes the kselftest framework and uapi headers from
# that tree; without it they come from Debian's linux-source-6.12.
# O=<dir> puts everything built in <dir> (default: build).
# ARGS="-f PATTERN" passes options to every program in run_tests.

O ?= $(CURDIR)/build
KDIR ?=
ARGS ?=
INSTALL_PATH ?= $(O)/install

MM := tools/testing/selftests/mm
CCNAME := $(notdir $(firstword $(CC)))
BIN := $(O)/$(CCNAME)
PROGS := $(shell $(MAKE) -s --no-print-directory -C $(MM) print-progs)

DEPS := gcc make rsync liburing-dev libnuma-dev libfuse3-dev
ifeq ($(KDIR),)
DEPS += linux-source-6.12
endif

all: $(O)/.ksrc-ready
	$(MAKE) -C $(MM) OUTPUT=$(BIN) \
		KSFT_INCLUDES="-I$(O)/ksft/mm" \
		KHDR_INCLUDES="-isystem $(O)/usr/include"

deps:
	@scripts/install-deps.sh $(DEPS)

$(O)/.ksrc-ready: | deps
	scripts/prepare-ksrc.sh $(O) $(KDIR)

run_tests: all
	scripts/run-suite.sh $(BIN) $(PROGS) -- $(ARGS)

check:
	scripts/check.sh

KERNEL ?= debian-6.12
VMTEST_DEPS := qemu-system-x86 busybox-static cpio e2fsprogs bash-static \
	zstd xz-utils kmod binutils

# ARGS="-f PATTERN" selects cells; VMTEST_OPTS passes vmtest.sh options.
vmtest: $(O)/.ksrc-ready
	@scripts/install-deps.sh $(VMTEST_DEPS)
	O=$(O) scripts/vmtest.sh $(VMTEST_OPTS) $(KERNEL) -- $(ARGS)

install: all
	mkdir -p $(INSTALL_PATH)
	cp $(addprefix $(BIN)/,$(PROGS)) $(BIN)/gup_stall_kernels.txt \
		scripts/run-suite.sh $(INSTALL_PATH)/

clean:
	rm -rf $(O)

.PHONY: all deps run_tests check vmtest install clean

# export-series: the patch series for a kernel tree (KDIR, or Debian's
# linux-source-6.12) in $(O)/series; SIGNOFF='Name <mail>' sets its
# author and Signed-off-by (default: git config).
# check-tree: applies that series to a fresh tree, builds and runs the
# gup_stall category there, runs checkpatch and builds the docs.
SIGNOFF ?=

export-series:
	O=$(O) scripts/export-series.sh $(if $(KDIR),-k $(KDIR)) \
		$(if $(SIGNOFF),-s "$(SIGNOFF)")

check-tree:
	O=$(O) scripts/check-tree.sh $(if $(KDIR),-k $(KDIR))

.PHONY: export-series check-tree

# mutation-bench (not part of CI; hours under QEMU TCG): builds Debian's
# linux-source-6.12 in $(O)/kernel with scripts/mutation.config, seeds each
# bug of scripts/mutants/ in turn, runs the suite (and with
# MUTATION_OPTS=-u the upstream mm selftests) in QEMU and prints which
# mutants were caught. MUTANTS="01-gup-fault-not-killable ..." selects some.
# MUTATION_OPTS="-c defconfig -b": the unmutated 6.12 configured as an mm
# developer would (x86_64_defconfig, kvm_guest.config, mm/config, DEBUG_VM,
# PROVE_LOCKING) in $(O)/kernel-defconfig, run and compared.
# bench: wall time of each program on the running kernel, cells per
# second, and a stalled cell against the bare userfaultfd round trip.
MUTATION_OPTS ?=
MUTANTS ?=
FIX_OPTS ?=
BENCH_RUNS ?= 5

mutation-bench:
	@scripts/install-deps.sh $(VMTEST_DEPS) build-essential flex bison bc \
		libelf-dev libssl-dev libcap-dev ccache
	O=$(O) scripts/mutation-bench.sh $(MUTATION_OPTS) $(MUTANTS)

bench: $(O)/.ksrc-ready
	O=$(O) scripts/bench.sh -n $(BENCH_RUNS)

# fix-bench (not part of CI): the kernel fixes of scripts/fixes/ applied
# to the mutation bench's 6.12 tree; the suite and the upstream mm
# selftests on the unpatched and the patched kernel, side by side.
fix-bench:
	@scripts/install-deps.sh $(VMTEST_DEPS) build-essential flex bison bc \
		libelf-dev libssl-dev libcap-dev ccache
	O=$(O) scripts/fix-bench.sh $(FIX_OPTS)

.PHONY: mutation-bench bench fix-bench
