# Every target makes its own virtual environment (.venv) and installs into it, idempotently.
# A newcomer needs two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
REQS   := requirements/base.txt requirements/ros.txt requirements/dev.txt
EXTRAS := $(VENV)/.extras-installed

.PHONY: setup demo lint test test-loaded bench model rover study attention uncertainty clean help

help:
	@echo "make demo   set up, then fly the shipped CfC policy in the forest and under shifts"
	@echo "make test   set up, then run the linter (ruff) and the whole pytest suite"
	@echo "make lint   only the linter"
	@echo "make test-loaded  the same suite while every core is kept busy by another process"
	@echo "make bench  set up, then run the benchmarks (tables + JSON in runs/bench)"
	@echo "make model  set up, then collect, train (DAgger) and evaluate the shipped models"
	@echo "make rover  set up, then collect, train and evaluate the rover's CfC and MLP (models/cfc_rover_forest.*)"
	@echo "make study  set up, then 3 hours (HOURS=H) more of the out-of-distribution study (3 trainings per kind; resumable)"
	@echo "make attention  set up, then the attention study of the shipped policies (models/eval/attention/)"
	@echo "make uncertainty  set up, then train and evaluate the CfC ensemble of 5 (models/cfc_ens5_forest.*, models/eval/uncertainty/)"
	@echo "make setup  only create .venv and install everything"

setup: $(STAMP)

$(STAMP): $(REQS) setup.py
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "ROS 2 Kilted wheels need CPython 3.11, got " + sys.version'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check $(foreach r,$(REQS),-r $(r))
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/lnn-control demo

# Optional extras (Ray for `lnn-control eval --backend ray`): the tests exercise them too.
$(EXTRAS): requirements/extras.txt $(STAMP)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/extras.txt
	touch $(EXTRAS)

# The linter first (ruff.toml): it takes a second and names every line it refuses.
lint: $(STAMP)
	$(BIN)/ruff check lnn_control test bench

test: $(STAMP) $(EXTRAS) lint
	$(BIN)/python -m pytest test

# The suite while every core is kept busy (stress-ng, or a busy Python loop per core without it):
# no test may depend on how fast the machine is. The load stops when pytest ends, however it ends.
LOAD_CPUS ?= $(shell nproc)
test-loaded: $(STAMP) $(EXTRAS) lint
	@hogs=""; \
	if command -v stress-ng >/dev/null 2>&1; then \
	  stress-ng --cpu $(LOAD_CPUS) --quiet & hogs=" $$!"; \
	else \
	  for i in $$(seq $(LOAD_CPUS)); do $(PYTHON) -c 'while True: pass' & hogs="$$hogs $$!"; done; \
	fi; \
	trap 'kill $$hogs 2>/dev/null; exit 130' INT TERM; \
	echo "load: $(LOAD_CPUS) busy CPUs (pids$$hogs)"; \
	$(BIN)/python -m pytest test; status=$$?; \
	kill $$hogs 2>/dev/null; wait 2>/dev/null; exit $$status

bench: $(STAMP)
	$(BIN)/lnn-control bench --out runs/bench

model: $(STAMP)
	$(BIN)/python -m lnn_control.make_model

# The rover (a wheeled robot in the same worlds): its CfC and same-size MLP, card and evaluations in
# models/ (cfc_rover_forest.pt, cfc_rover_forest.md, eval/rover_*); about 1.5 h on 2 cores, resumable.
rover: $(STAMP)
	$(BIN)/python -m lnn_control.make_model --vehicle rover --kinds cfc,mlp --config config/rover_recipe.yaml \
	  --episodes 120 --dagger 2 --eval-episodes 40 --suite-episodes 4 --work runs/make_rover

# The out-of-distribution study (many hours; resumable: the same command continues): models/study/.
# One invocation works HOURS at most (no training is started that would not finish by then).
HOURS ?= 3
study: $(STAMP)
	$(BIN)/python -m lnn_control.make_model.study --hours $(HOURS)

# The attention study (lnn-control explain) of the four shipped forest policies: the forest under
# the study's worst shifts and the city, the same seeds for every policy; about an hour on 2 cores.
POLICIES := $(foreach p,models/cfc_forest.pt $(addprefix models/baselines/,lstm_forest.pt gru_forest.pt mlp_forest.pt),--policy $(p))
attention: $(STAMP)
	$(BIN)/lnn-control explain $(POLICIES) --world forest --shift fog:0.5 --shift wind:0.5 --shift dim:0.5 \
	  --episodes 10 --time-limit 30 --out models/eval/attention/forest & \
	$(BIN)/lnn-control explain $(POLICIES) --world urban --episodes 20 --time-limit 30 --out models/eval/attention/urban; \
	status=$$?; wait $$! || status=1; exit $$status

# Knowing when it does not know: a CfC ensemble of 5 members on one shared encoder, trained like the
# shipped CfC (its 300 forest demonstrations, its recipe, 3 DAgger rounds); its slow-down thresholds
# calibrated on 20 forest flights (seeds 30000 on); then flown with and without slow-down over the
# standard shift suite in the forest, and in the city and the new worlds, 20 episodes each (seeds
# 10000 on). Into models/cfc_ens5_forest.* and models/eval/uncertainty/. About an hour and a half on
# 2 cores; run again, it redoes no finished step (an interrupted evaluation resumes).
UQ := runs/uncertainty
UQ_EVAL := --episodes 20 --seed 10000 --workers 2 --time-limit 40
UQ_WORLDS := $(foreach w,forest urban orchard park quarry,--world $(w))
UQ_RESUME = $(if $(wildcard $(UQ)/eval/$(1)/run.json),--resume)
UQ_CALIBRATED := $(BIN)/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["slow_down_calibration"][0]["slow_down"])'
uncertainty: $(UQ)/cfc_ens5_forest.pt
	$(BIN)/lnn-control eval --policy $< --world forest --episodes 20 --seed 30000 --workers 2 --time-limit 40 \
	  --out $(UQ)/eval/calibration $(call UQ_RESUME,calibration)
	slow_down=$$($(UQ_CALIBRATED) $(UQ)/eval/calibration/results.json) && echo "slow-down $$slow_down" && \
	$(BIN)/lnn-control eval --policy $< --world forest --suite config/eval_suites.yaml:standard $(UQ_EVAL) \
	  --slow-down $$slow_down --out $(UQ)/eval/shifts $(call UQ_RESUME,shifts) && \
	$(BIN)/lnn-control eval --policy $< $(UQ_WORLDS) $(UQ_EVAL) \
	  --slow-down $$slow_down --out $(UQ)/eval/worlds $(call UQ_RESUME,worlds)
	cp $< models/cfc_ens5_forest.pt && cp $(UQ)/cfc_ens5_forest.loss.png models/
	for run in calibration shifts worlds; do mkdir -p models/eval/uncertainty/$$run && \
	  cp $(UQ)/eval/$$run/results.json $(UQ)/eval/$$run/results.md $(UQ)/eval/$$run/*.png models/eval/uncertainty/$$run/ \
	  || exit 1; done

# (an interrupted training starts again: its partial checkpoint and rollouts stay in $(UQ)/train/)
$(UQ)/cfc_ens5_forest.pt: $(UQ)/bags/.collected
	rm -rf $(UQ)/train
	$(BIN)/lnn-control train --bags $(UQ)/bags --model cfc --ensemble 5 --config config/model_recipe.yaml \
	  --dagger 3 --out $(UQ)/train/cfc_ens5_forest.pt
	cp $(UQ)/train/cfc_ens5_forest.loss.png $(UQ)/ && cp $(UQ)/train/cfc_ens5_forest.pt $@

$(UQ)/bags/.collected: | $(STAMP)
	rm -rf $(UQ)/bags
	$(BIN)/lnn-control collect --world forest --episodes 300 --out $(UQ)/bags --workers 2 --seed 0
	touch $@

clean:
	rm -rf $(VENV) build install log *.egg-info
