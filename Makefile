# Two commands for a newcomer on a fresh machine (no apt ROS needed):
#   make demo   - synthetic camera -> handos node (embedded default model) -> consumer
#   make test   - the test suite (real rclpy over DDS on loopback, real model)
# Both bootstrap .venv and the colcon build first (seconds when nothing changed).

SHELL := /bin/bash
ENV := source scripts/env.sh
FRAMES ?= 60
PYTEST_ARGS ?=

.PHONY: bootstrap demo test lint bench train-default clean

bootstrap:
	@bash scripts/bootstrap.sh

demo: bootstrap
	@$(ENV) && cd build && python -m handos_ros.demo --frames $(FRAMES) --out ../out/demo

test: bootstrap
	@$(ENV) && ruff check . && pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: bootstrap
	@$(ENV) && ruff check .

bench: bootstrap
	@$(ENV) && bash bench/run_all.sh

train-default: bootstrap
	@$(ENV) && bash scripts/train_default.sh

clean:
	rm -rf build install log
