# The two commands of the quick start:
#   make experiment   a complete local experiment on inventories/local.yml
#   make test         every test (unit, lint, netem lab, testbed, end-to-end)
.PHONY: setup experiment test test-quick test-testbeds clean-env

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

clean-env: setup
	.venv/bin/enos destroy --hard
