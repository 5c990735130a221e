#!/usr/bin/env bash
# Environment of the Rasa server process: performance knobs measured by `make bench-serve`
# (docs/performance.md). `make run` and the benchmark apply it (launcher/tuning.py); by hand: source scripts/rasa-env.sh
# Every value can be overridden from the environment.

# TensorFlow's thread pools, for a model that needs TensorFlow (ours does not: rasa_runtime/tensorflow_stand_in.py
# then drops them). Rasa applies these at start-up (rasa/utils/tensorflow/environment.py). One replica per
# core: a turn's small DIET/ResponseSelector graphs gain nothing from a second thread, and extra threads on a
# shared core only add contention between replicas.
export TF_INTRA_OP_PARALLELISM_THREADS="${TF_INTRA_OP_PARALLELISM_THREADS:-1}"
export TF_INTER_OP_PARALLELISM_THREADS="${TF_INTER_OP_PARALLELISM_THREADS:-1}"
# OpenMP / BLAS pools (numpy, scikit-learn's logistic regression): one thread per replica as well.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
export MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
# TensorFlow's C++ start-up chatter (oneDNN notices, CPU feature lines).
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
# Rasa's own log level (also read by the action server): INFO logs a line per request.
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
export RASA_TELEMETRY_ENABLED="${RASA_TELEMETRY_ENABLED:-false}"
