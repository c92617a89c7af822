# The two commands of the quick start:
#   make experiment   a complete local experiment on inventories/local.yml
#   make test         the tests (unit, sanity, lint, netem lab, local testbeds and roles)
.PHONY: setup experiment test test-quick test-testbeds test-e2e clean-env

setup:
	./scripts/setup.sh

experiment: setup
	./scripts/experiment.sh

test: setup
	./scripts/test.sh

test-quick: setup
	./scripts/test.sh quick

test-testbeds: setup
	./scripts/test.sh testbeds

test-e2e: setup
	./scripts/test.sh e2e

clean-env: setup
	.venv/bin/enos destroy --hard
