# A thin wrapper: installs the Debian packages runbook needs, then drives CMake.
#   make deps   install missing build and test dependencies (apt-get)
#   make        release build in build/
#   make package  the Debian package, build-package/runbook_VERSION_ARCH.deb (CPack)
#   make test   the package, then a sanitized build (ASan + UBSan) in build-asan/, then the whole suite,
#               then a few seconds of each fuzz harness (build-fuzz/)
#   make demo   EHG staging then production promotion on a throwaway PostgreSQL, audited
#   make bench  the benchmarks under tests/bench/, then one table: figure, runbook, baseline, ratio (not part of make test)
#   make valgrind  plans, runs and the unit tests under valgrind's leak checker
#   make fuzz   the libFuzzer harnesses of tests/fuzz/ (clang, build-fuzz/), FUZZ_SECONDS each

DEB_PACKAGES := build-essential cmake pkg-config libcmark-dev libpq-dev liblua5.4-dev \
                libgit2-dev libyaml-dev libcmocka-dev libpg-query-dev libprotobuf-c-dev postgresql git procps python3 bc time util-linux jq curl python3-yaml zsh libxml2-utils \
                clang libclang-rt-14-dev openssh-client openssh-server e2fsprogs dpkg-dev
# The browser tests' (tests/cli/report-browser.sh): installed when it can be; without it they say so and are skipped.
BROWSER_PACKAGES := chromium
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 2

.PHONY: all deps build package test demo bench valgrind fuzz fuzz-build clean

all: build

deps:
	@updated=; missing=$$(for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing:" $$missing; \
	  $(SUDO) apt-get update -qq && updated=1 && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing || exit 1; \
	fi; \
	for p in $(BROWSER_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' && continue; \
	  echo "Installing $$p (the browser tests)"; \
	  { [ -n "$$updated" ] || $(SUDO) apt-get update -qq; } && updated=1 && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$p || \
	    echo "$$p could not be installed: the browser tests will be skipped"; \
	done

build: deps
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j $(JOBS)

# The Debian package (build-package/runbook_VERSION_ARCH.deb): installed under /usr, no fallback to this tree.
package: deps
	cmake -S . -B build-package -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRB_PACKAGE=ON -DRB_TESTS=OFF \
	  -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
	cmake --build build-package -j $(JOBS)
	cd build-package && cpack -G DEB >/dev/null && ls -1 $$PWD/*.deb

test: deps package
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRB_SANITIZE=ON >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory fuzz-build
	cd build-fuzz && ctest --output-on-failure -j $(JOBS)

demo: build
	runbooks/demo.sh build/runbook

bench: build
	tests/bench/run-all.sh build/runbook

valgrind: build
	@command -v valgrind >/dev/null || $(SUDO) apt-get install -y -qq valgrind
	RUNBOOK=build/runbook tests/valgrind.sh

# clang with libFuzzer, the core library instrumented (tests/fuzz/CMakeLists.txt).
fuzz-build: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DRB_FUZZ=ON -DRB_TESTS=OFF >/dev/null
	cmake --build build-fuzz -j $(JOBS)

# New corpus entries, crash artifacts and logs go to build-fuzz/tests/fuzz/work/.
fuzz: fuzz-build
	FUZZ_JOBS=$(FUZZ_JOBS) tests/fuzz/run.sh build-fuzz/tests/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-fuzz build-package
