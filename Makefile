# Two commands for a newcomer on a fresh machine (no apt ROS needed):
#   make demo   - synthetic camera -> handos node (embedded default model) -> consumer
#   make test   - the test suite (real rclpy over DDS on loopback, real model), ROS 2 Kilted
# Both bootstrap .venv and the colcon build first (seconds when nothing changed).
#   make test-jazzy - the ROS tests again against the ROS 2 Jazzy wheels (.venv-jazzy)

SHELL := /bin/bash
ENV := source scripts/env.sh
ENV_JAZZY := HANDOS_ROS_LANE=jazzy source scripts/env.sh
FRAMES ?= 60
PYTEST_ARGS ?=
# The Jazzy lane runs every test marked `ros` (node, messages, launch file, bootstrap, shutdown).
JAZZY_PYTEST_ARGS ?= -m ros

.PHONY: bootstrap bootstrap-jazzy demo test test-jazzy lint bench train-default clean

bootstrap:
	@bash scripts/bootstrap.sh

bootstrap-jazzy:
	@HANDOS_ROS_LANE=jazzy bash scripts/bootstrap.sh

demo: bootstrap
	@$(ENV) && python -m handos_ros.demo --frames $(FRAMES) --out out/demo

test: bootstrap
	@$(ENV) && ruff check . && pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-jazzy: bootstrap-jazzy
	@$(ENV_JAZZY) && pytest -q -p no:cacheprovider $(JAZZY_PYTEST_ARGS) $(PYTEST_ARGS)

lint: bootstrap
	@$(ENV) && ruff check .

bench: bootstrap
	@$(ENV) && bash bench/run_all.sh

train-default: bootstrap
	@$(ENV) && bash scripts/train_default.sh

clean:
	rm -rf build install log .venv-jazzy/ws
