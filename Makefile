# Thin wrapper over CMake. The two commands a new user needs: `make run` and `make test`.
JOBS ?= 2
# Tests spend most of their time waiting on the processes they start
# (sluice, backends, clients): at -j2 the suite kept the two cores 45-70%
# busy; -j4 took it from 172 to 114 s and the ASan run from 329 to 252 s.
TEST_JOBS ?= 4
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
CONFIG ?= examples/quickstart.yaml
# make install: where (PREFIX) and under which staging root (DESTDIR).
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60
CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all deps build asan run test test-normal test-asan profile profile-instructions bench bench-micro bench-path bench-load bench-idle bench-tls bench-h2 bench-auth bench-chaos bench-tcp bench-slowloris fuzz format tidy clean install deb release

all: build

deps:
	@scripts/install-deps.sh build test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DSLUICE_SANITIZE=ON

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

asan: deps $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

run: build
	./$(BUILD)/sluice run -c $(CONFIG)

# PREFIX/bin/sluice (stripped), PREFIX/lib/systemd/system/sluice.service,
# PREFIX/share/doc/sluice/, and PREFIX/etc/sluice/sluice.yaml (/etc/sluice
# when PREFIX=/usr) unless a configuration is already there.
install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)" --strip

# $(BUILD)/sluice_VERSION_ARCH.deb: the binary, the unit, the example
# configuration (a conffile) and the docs; Depends from dpkg-shlibdeps.
deb: build
	@scripts/install-deps.sh package
	cd $(BUILD) && cpack -G DEB

# A profile-guided build of sluice in $(RELEASE_BUILD) (GCC PGO; what it
# gains: docs/benchmarks.md): built with counters, trained on the proxy
# benchmark's loads (bench/load/pgo_train.py), built again from the profile;
# then the test suite runs against it (SLUICE_BINARY).
RELEASE_BUILD ?= build-release
release: build
	@scripts/install-deps.sh bench
	cmake -S . -B $(RELEASE_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLUICE_PGO=generate
	cmake --build $(RELEASE_BUILD) -j $(JOBS) --target sluice
	rm -rf $(RELEASE_BUILD)/pgo-profile
	python3 bench/load/pgo_train.py --sluice $(RELEASE_BUILD)/sluice
	@# Without a profile the guided build would quietly be the normal one.
	@ls $(RELEASE_BUILD)/pgo-profile/*.gcda >/dev/null 2>&1 || \
	  { echo "release: the training wrote no profile in $(RELEASE_BUILD)/pgo-profile" >&2; exit 1; }
	cmake -S . -B $(RELEASE_BUILD) -DSLUICE_PGO=use
	cmake --build $(RELEASE_BUILD) -j $(JOBS) --target sluice
	SLUICE_BINARY="$(abspath $(RELEASE_BUILD))/sluice" ctest --test-dir $(BUILD) --output-on-failure -j $(TEST_JOBS) -E fuzz_corpus

# The whole CTest suite on the normal build, then again under ASan+UBSan.
test: test-normal test-asan

test-normal: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(TEST_JOBS)

test-asan: asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(TEST_JOBS)

bench: bench-micro bench-load bench-chaos bench-tcp

bench-micro: build
	@for b in $(BUILD)/bench/micro/*_bench; do [ -x "$$b" ] && "$$b"; done

# A perf report of sluice under a load (bench/load/profile.py): LOAD=ka,
# ka64k or newconn; the report in build/profile/report.txt.
LOAD ?= ka
profile: build
	@scripts/install-deps.sh bench
	python3 bench/load/profile.py --sluice $(BUILD)/sluice --load $(LOAD) --out $(BUILD)/profile

# User-space instructions per request under callgrind: a count the machine's
# noise does not move (docs/benchmarks.md).
profile-instructions: build
	@scripts/install-deps.sh bench
	python3 bench/load/profile.py --sluice $(BUILD)/sluice --load $(LOAD) --instructions --out $(BUILD)/profile

# The HTTP/1 request path in one process (issue 20): ns and allocations per
# request and per step on a 1-route and the 4,800-route table, then where in
# src/ each allocation of one request is made (docs/benchmarks.md).
bench-path: build
	$(BUILD)/bench/micro/request_path_bench
	$(BUILD)/bench/micro/request_path_bench --alloc_sites

bench-load: build
	@scripts/install-deps.sh bench
	python3 bench/load/run.py --sluice $(BUILD)/sluice

# Idle memory after a burst (issue 13, item 18): 10,000 clients arriving 200
# at a time, one GET each, then idle; RSS growth per connection once settled,
# sluice beside nginx and HAProxy in the same run.
bench-idle: build
	@scripts/install-deps.sh bench
	python3 bench/load/run.py --scenario proxy --proxy-loads burst --proxies sluice,nginx,haproxy \
	  --sluice $(BUILD)/sluice

# TLS termination (issue 16) beside HAProxy and nginx: full handshakes (ECDSA
# P-256, RSA 2048), resumed handshakes, keep-alive over TLS, /64k with and
# without kTLS, bytes per idle TLS connection (also needs the openssl command).
bench-tls: build
	@scripts/install-deps.sh bench
	python3 bench/load/run.py --scenario tls --sluice $(BUILD)/sluice

# HTTP/2 (issue 17) beside HAProxy and nginx, h2load -c 50 -m 10: h2 over TLS
# and h2c to the proxy (HTTP/1.1 to the backend), bytes per idle h2
# connection, and h2c to an h2 backend (sluice once it has h2 upstreams).
bench-h2: build
	@scripts/install-deps.sh bench
	python3 bench/load/run.py --scenario h2 --sluice $(BUILD)/sluice

# Forward auth (issue 18): sluice's forward_auth against nginx's auth_request,
# every request asked and decisions cached, wrk keep-alive.
bench-auth: build
	@scripts/install-deps.sh bench
	python3 bench/load/run.py --scenario auth --sluice $(BUILD)/sluice

# TCP mode throughput and CPU per GiB against HAProxy in mode tcp.
bench-tcp: build
	@scripts/install-deps.sh bench
	python3 bench/load/tcp_bench.py --sluice $(BUILD)/sluice

# p99 latency of normal clients with and without 10,000 slowloris
# connections open (one header byte every ~3 s), and sluice's RSS.
bench-slowloris: build
	@scripts/install-deps.sh bench
	python3 bench/load/slowloris.py --sluice $(BUILD)/sluice

# 60 s of GET/POST while the backend drops pooled connections: no failed
# GET, no POST delivered twice.
bench-chaos: build
	python3 bench/chaos/run.py --sluice $(BUILD)/sluice --duration 60

# libFuzzer needs clang: a separate build tree; each target runs FUZZ_SECONDS.
fuzz:
	@scripts/install-deps.sh build fuzz
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release -DSLUICE_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	fuzz/run.sh $(FUZZ_BUILD)/fuzz $(FUZZ_SECONDS)

format:
	@git ls-files '*.cpp' '*.h' | xargs clang-format -i

tidy: $(BUILD)/CMakeCache.txt
	@git ls-files 'src/*.cpp' | xargs clang-tidy -p $(BUILD) --quiet

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) $(RELEASE_BUILD)
