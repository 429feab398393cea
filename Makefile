# camaudit — the two commands a user needs:
#   make demo   lab of emulated cameras up, scan it, write reports to out/, then serve the platform
#               with a demo province on http://127.0.0.1:8080 until Ctrl-C, lab down
#               (make demo SERVE=0: stop after the reports)
#   make test   every test (unit, lab, integration against real Debian servers)
# Both set up what is missing first: Debian packages (when run as root), the .venv, the package.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Debian packages the lab, the integration tests, the browser tests and the benchmark use.
DEB_PACKAGES := nmap ieee-data ffmpeg busybox-static lighttpd vsftpd snmpd snmp openssl iproute2 \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly \
	gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 python3-gi \
	fonts-noto-core fonts-dejavu-core libpango-1.0-0 libpangoft2-1.0-0 poppler-utils \
	chromium postgresql redis-server

SERVE ?= 1

.PHONY: demo test setup deb venv bench bench-platform clean

demo: setup
	$(BIN)/camaudit demo --out out $(if $(filter 0,$(SERVE)),--no-serve,--serve)

test: setup
	$(BIN)/pytest

bench: setup
	$(BIN)/python bench/run.py

bench-platform: setup
	$(BIN)/python bench/platform.py

setup: deb venv

deb:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $$missing"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/tmp/camaudit-apt.log 2>&1 \
	      || { cat /tmp/camaudit-apt.log; exit 1; }; \
	  else \
	    echo "note: Debian packages missing (tests that need them will skip): $$missing"; \
	    echo "      install them with: sudo apt-get install $$missing"; \
	  fi; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) out .pytest_cache build *.egg-info src/*.egg-info
