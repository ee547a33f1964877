# uiscsid: one non-recursive Makefile.
#
# Sources are found by folder, so adding a module, a test or a fuzzer needs no
# edit here:
#   proto/*.c                 -> $(B)/libproto.a   (pure protocol core)
#   actors/rt/*.c actors/*.c  -> $(B)/libactors.a  (runtime and actors)
#   rpc/*.c                   -> $(B)/librpc.a     (JSON-RPC core and front end)
#   actors/uiscsid.c          -> $(B)/uiscsid      (the daemon's main)
#   tests/unit/<area>/test_*.c -> one cmocka binary each
#   tests/fuzz/fuzz_*.c       -> a libFuzzer target (clang) and a corpus replayer
#
# Entry points: make (build), make test, make demo, make fuzz, make bench.
# Variables: BUILD (output folder), CC, SAN=1 (ASan+UBSan build).

BUILD ?= build
B := $(BUILD)
CC ?= gcc
SAN ?=
FUZZ_SECONDS ?= 60

PKGS := libzmq jansson cmocka libisal libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wformat=2 -Wundef
OPT ?= -O2
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) -g $(WARN) -I. $(PKG_CFLAGS) $(CFLAGS)
ifeq ($(SAN),1)
CFLAGS_ALL += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDSAN := -fsanitize=address,undefined
endif
LDLIBS_ALL := $(PKG_LIBS) -lpthread $(LDSAN)

PROTO_SRC := $(sort $(wildcard proto/*.c))
ACTORS_SRC := $(sort $(wildcard actors/rt/*.c) $(filter-out actors/uiscsid.c,$(wildcard actors/*.c)))
RPC_SRC := $(sort $(wildcard rpc/*.c))
DAEMON_SRC := $(wildcard actors/uiscsid.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
PROTO_OBJ := $(call obj,$(PROTO_SRC))
ACTORS_OBJ := $(call obj,$(ACTORS_SRC))
RPC_OBJ := $(call obj,$(RPC_SRC))

LIBPROTO := $(B)/libproto.a
LIBACTORS := $(B)/libactors.a
LIBRPC := $(B)/librpc.a
# Actors call into rpc/ and rpc/ into proto/: link the three as one group.
LIBS_ALL := -Wl,--start-group $(LIBRPC) $(LIBACTORS) $(LIBPROTO) -Wl,--end-group

# Unit tests by area; each area links only the libraries it needs.
UNIT_PROTO := $(patsubst tests/unit/proto/%.c,$(B)/tests/unit/proto/%,$(wildcard tests/unit/proto/test_*.c))
UNIT_ACTORS := $(patsubst tests/unit/actors/%.c,$(B)/tests/unit/actors/%,$(wildcard tests/unit/actors/test_*.c))
UNIT_RPC := $(patsubst tests/unit/rpc/%.c,$(B)/tests/unit/rpc/%,$(wildcard tests/unit/rpc/test_*.c))
UNIT_BIN := $(UNIT_PROTO) $(UNIT_ACTORS) $(UNIT_RPC)

FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
REPLAY_BIN := $(addprefix $(B)/tests/fuzz/replay_,$(FUZZ_NAMES))
FUZZ_BIN := $(addprefix $(B)/fuzz/fuzz_,$(FUZZ_NAMES))

DAEMON := $(if $(DAEMON_SRC),$(B)/uiscsid)

# The C client library (clients/c): its own code only, linked with libzmq and
# jansson; position-independent so the same objects make the shared library.
VERSION := 0.1.0
CLIENT_SRC := $(sort $(wildcard clients/c/*.c))
CLIENT_OBJ := $(patsubst %.c,$(B)/obj/%.pic.o,$(CLIENT_SRC))
CLIENT_LIBS := $(shell pkg-config --libs libzmq jansson 2>/dev/null)
LIBUISCSI := $(B)/libuiscsi.a
# ASan builds make no shared library (the sanitizer runtime cannot be linked
# into a -Wl,--no-undefined .so).
LIBUISCSI_SO := $(if $(filter 1,$(SAN)),,$(B)/libuiscsi.so.1 $(B)/libuiscsi.so)
CLIENT_TEST := $(B)/tests/clients/test_client_c
CLI_SRC := $(sort $(wildcard clients/cli/*.c))
UISCSICTL := $(if $(CLI_SRC),$(B)/uiscsictl)

.PHONY: all libs unit replay test _test demo _demo fuzz fuzz-build check-purity \
        check-format format clean bootstrap run-unit run-replay asan clang-check \
        check-conformance run-integration docs run-fake-selftest run-lab-check run-iscsi install check-install bench bench-quick

all: libs $(DAEMON) $(UNIT_BIN) $(REPLAY_BIN) $(LIBUISCSI) $(LIBUISCSI_SO) $(CLIENT_TEST) \
     $(UISCSICTL)

libs: $(LIBPROTO) $(LIBACTORS) $(LIBRPC)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIBPROTO): $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBACTORS): $(ACTORS_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBRPC): $(RPC_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/uiscsid: $(call obj,$(DAEMON_SRC)) $(LIBRPC) $(LIBACTORS) $(LIBPROTO)
	$(CC) $(CFLAGS_ALL) -o $@ $(call obj,$(DAEMON_SRC)) $(LIBS_ALL) $(LDLIBS_ALL)

$(B)/tests/unit/proto/%: tests/unit/proto/%.c $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBPROTO) $(LDLIBS_ALL)
$(B)/tests/unit/actors/%: tests/unit/actors/%.c $(LIBRPC) $(LIBACTORS) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBS_ALL) $(LDLIBS_ALL)
$(B)/tests/unit/rpc/%: tests/unit/rpc/%.c $(LIBRPC) $(LIBACTORS) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBS_ALL) $(LDLIBS_ALL)

$(B)/obj/%.pic.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fPIC -MMD -MP -c $< -o $@

$(LIBUISCSI): $(CLIENT_OBJ)
	rm -f $@ && ar rcs $@ $^
$(B)/libuiscsi.so.1: $(CLIENT_OBJ)
	$(CC) -shared -Wl,-soname,libuiscsi.so.1 -Wl,--no-undefined -o $@ $^ $(CLIENT_LIBS)
$(B)/libuiscsi.so: $(B)/libuiscsi.so.1
	ln -sf libuiscsi.so.1 $@

PREFIX ?= /usr/local
DESTDIR ?=

# uiscsictl, the command-line client, on the C client library.
$(B)/uiscsictl: $(call obj,$(CLI_SRC)) $(LIBUISCSI)
	$(CC) $(CFLAGS_ALL) -o $@ $(call obj,$(CLI_SRC)) $(LIBUISCSI) $(CLIENT_LIBS) $(LDSAN)

$(CLIENT_TEST): clients/c/tests/test_client_c.c $(LIBUISCSI)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBUISCSI) $(LDLIBS_ALL)

# make install PREFIX=... [DESTDIR=...]: the daemon, the C client library
# (static, shared, header, pkg-config file) and the docs.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/doc/uiscsid
	install -m 0755 $(B)/uiscsid $(DESTDIR)$(PREFIX)/bin/uiscsid
	install -m 0755 $(B)/uiscsictl $(DESTDIR)$(PREFIX)/bin/uiscsictl
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0644 docs/uiscsictl.1 $(DESTDIR)$(PREFIX)/share/man/man1/uiscsictl.1
	install -m 0644 $(LIBUISCSI) $(DESTDIR)$(PREFIX)/lib/libuiscsi.a
	install -m 0755 $(B)/libuiscsi.so.1 $(DESTDIR)$(PREFIX)/lib/libuiscsi.so.1
	ln -sf libuiscsi.so.1 $(DESTDIR)$(PREFIX)/lib/libuiscsi.so
	install -m 0644 clients/c/uiscsi.h $(DESTDIR)$(PREFIX)/include/uiscsi.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$${prefix}/lib|' \
	    -e 's|@INCLUDEDIR@|$${prefix}/include|' -e 's|@VERSION@|$(VERSION)|' \
	    clients/c/uiscsi.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/uiscsi.pc
	install -m 0644 docs/api.md docs/operations.md README.md $(DESTDIR)$(PREFIX)/share/doc/uiscsid/

# An installed copy builds a program through pkg-config alone.
check-install:
	@rm -rf $(B)/stage
	@$(MAKE) --no-print-directory install PREFIX=$(abspath $(B)/stage) >/dev/null
	@printf '#include <uiscsi.h>\nint main (void) { return uiscsi_error_name (-32001)[0] == 0; }\n' > $(B)/stage/t.c
	@PKG_CONFIG_PATH=$(abspath $(B)/stage)/lib/pkgconfig $(CC) -o $(B)/stage/t $(B)/stage/t.c \
	    $$(PKG_CONFIG_PATH=$(abspath $(B)/stage)/lib/pkgconfig pkg-config --cflags --libs uiscsi) \
	    -Wl,-rpath,$(abspath $(B)/stage)/lib && $(B)/stage/t && echo "check-install: ok"

# The API reference docs/api.md is generated from the method table.
$(B)/gen-api-docs: scripts/gen-api-docs.c $(LIBRPC) $(LIBPROTO)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(LIBRPC) $(LIBPROTO) $(LDLIBS_ALL)

docs: $(B)/gen-api-docs
	$(B)/gen-api-docs docs/api.md
	/usr/bin/python3 scripts/conformance.py

# Corpus replayer: the fuzz target plus a main() that feeds it files (gcc).
$(B)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(LIBRPC) $(LIBACTORS) $(LIBPROTO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< tests/fuzz/replay_main.c $(LIBS_ALL) $(LDLIBS_ALL)

# libFuzzer targets (clang), built from sources with ASan and UBSan.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -I. $(PKG_CFLAGS) \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(PROTO_SRC) $(RPC_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(PROTO_SRC) $(RPC_SRC) $(PKG_LIBS)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- checks

run-unit: $(UNIT_BIN)
	@scripts/run-tests.sh unit $(UNIT_BIN)

run-replay: $(REPLAY_BIN)
	@scripts/run-tests.sh replay $(REPLAY_BIN)

check-conformance:
	@/usr/bin/python3 scripts/conformance.py --check

# Black-box tests of the daemon through its public API (Debian python3-zmq),
# run against the ASan+UBSan build so leaks and UB fail them.
run-integration:
	@$(MAKE) --no-print-directory BUILD=$(B)/asan SAN=1 OPT=-O1 $(B)/asan/uiscsid
	@scripts/run-tests.sh py tests/integration/test_daemon_rpc.py $(B)/asan/uiscsid
	@scripts/run-tests.sh py clients/python/tests/test_client.py $(B)/asan/uiscsid
	@$(MAKE) --no-print-directory BUILD=$(B)/asan SAN=1 OPT=-O1 $(B)/asan/tests/clients/test_client_c
	@$(MAKE) --no-print-directory BUILD=$(B)/asan SAN=1 OPT=-O1 $(B)/asan/uiscsictl
	@scripts/run-tests.sh py clients/cli/tests/test_uiscsictl.py $(B)/asan/uiscsid $(B)/asan/uiscsictl
	@UISCSID=$(B)/asan/uiscsid scripts/with-lab.sh 3267 \
	    scripts/run-tests.sh unit $(B)/asan/tests/clients/test_client_c

# The iSCSI engine end to end through the RPC API against real targets on
# loopback (tgt on 3261, istgt on 3280, tgt for qemu-img interop on 3262).
# Each suite starts and stops its own lab; tgtd needs root.
run-iscsi:
	@$(MAKE) --no-print-directory BUILD=$(B)/asan SAN=1 OPT=-O1 $(B)/asan/uiscsid \
	    $(B)/asan/tests/unit/actors/test_io_tgt
	@scripts/with-lab.sh 3263 scripts/run-tests.sh unit $(B)/asan/tests/unit/actors/test_io_tgt
	@scripts/run-tests.sh py tests/integration/test_iscsi_tgt.py $(B)/asan/uiscsid --port 3261
	@scripts/run-tests.sh py tests/integration/test_iscsi_istgt.py $(B)/asan/uiscsid --port 3280
	@scripts/run-tests.sh py tests/integration/test_qemu_interop.py $(B)/asan/uiscsid --port 3262
	@scripts/run-tests.sh py tests/integration/test_fake_scenarios.py $(B)/asan/uiscsid
	@scripts/run-tests.sh py tests/integration/test_shared_clients.py $(B)/asan/uiscsid --port 3275

# The scripted fake target checks itself (its codec, and interop with
# libiscsi's tools) before any test relies on it.
run-fake-selftest:
	@scripts/run-tests.sh py tests/fake/test_fake_target.py

# The real-target lab (tgtd on loopback) proven by libiscsi's tools.
run-lab-check:
	@scripts/run-tests.sh sh scripts/lab-check.sh 3261

check-purity: $(PROTO_OBJ)
	@scripts/check-purity.sh $(PROTO_OBJ)

FORMAT_FILES = $(shell git ls-files -co --exclude-standard '*.c' '*.h' 2>/dev/null)
check-format:
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "check-format: ok ($(words $(FORMAT_FILES)) files)"

format:
	clang-format -i $(FORMAT_FILES)

# The same unit tests and corpora under AddressSanitizer + UBSan.
asan:
	$(MAKE) BUILD=$(B)/asan SAN=1 OPT=-O1 run-unit run-replay

# The whole tree must also compile clean with clang.
clang-check:
	$(MAKE) BUILD=$(B)/clang CC=clang all

bootstrap:
	@scripts/bootstrap.sh build

# make test: everything, non-zero on any failure.
test:
	@scripts/bootstrap.sh test
	@$(MAKE) --no-print-directory _test

_test: all
	@scripts/run-tests.sh reset
	@$(MAKE) --no-print-directory check-format check-purity check-conformance check-install
	@$(MAKE) --no-print-directory run-unit run-replay
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory clang-check
	@$(MAKE) --no-print-directory run-fake-selftest run-lab-check
	@$(MAKE) --no-print-directory run-integration
	@$(MAKE) --no-print-directory run-iscsi
	@scripts/run-tests.sh summary

demo:
	@scripts/bootstrap.sh demo
	@$(MAKE) --no-print-directory _demo

_demo: all
	@scripts/demo.sh $(B)

# uiscsid side by side with libiscsi on a private tgt lab (root; see
# bench/README.md). Results go to bench/results/. Never part of make test.
bench:
	@scripts/bootstrap.sh bench
	@$(MAKE) --no-print-directory $(DAEMON) $(LIBUISCSI)
	timeout -k 10 1800 /usr/bin/python3 bench/run.py --set full --build $(B)

bench-quick:
	@scripts/bootstrap.sh bench
	@$(MAKE) --no-print-directory $(DAEMON) $(LIBUISCSI)
	timeout -k 10 300 /usr/bin/python3 bench/run.py --set quick --build $(B)

fuzz-build: $(FUZZ_BIN)

# make fuzz FUZZ_SECONDS=N: run every fuzzer for N seconds on a copy of its
# corpus (new inputs land in $(B)/fuzz/corpus/NAME, not in the repository).
fuzz: fuzz-build
	@scripts/run-fuzz.sh $(B) $(FUZZ_SECONDS) $(FUZZ_NAMES)

clean:
	rm -rf $(B)
