# Thin wrapper over CMake. `make test` is the one command a new user runs.
BUILD      ?= build
BUILD_SAN  ?= build-asan
JOBS       ?= $(shell nproc)
DEBIAN_PACKAGES = cmake make gcc clang pkg-config libjansson-dev libonig-dev libutf8proc-dev \
                  libopenblas-dev libcurl4-openssl-dev libedit-dev libmicrohttpd-dev

.PHONY: all deps build build-asan test test-release test-asan clean

all: build

# Installs missing Debian packages when run as root; otherwise prints the exact command.
deps:
	@tools/install-deps.sh $(DEBIAN_PACKAGES)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: deps
	@cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DCMLX_SANITIZE=ON >/dev/null
	@cmake --build $(BUILD_SAN) -j $(JOBS)

test-release: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	@cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) -LE no-sanitizer

# The whole suite twice: optimised, then under AddressSanitizer + UBSan.
test: test-release test-asan

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
