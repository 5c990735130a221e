"""The Rasa we serve: `python -m rasa_runtime <rasa arguments>` is `rasa <rasa arguments>` with the runtime applied.

The runtime is JSON logging (`__main__`), the fixes to Rasa 3.6.21 we carry (`patches`, each switched off by its
own environment variable) and, for a model that uses no TensorFlow, a stand-in for it (`tensorflow_stand_in`,
`RASA_TENSORFLOW_STAND_IN=off` loads the real one). `make run`, `make shell`, `make test-conversations`, the
stack tests and the serving benchmark all run Rasa through it, so what is tested is what is served.
"""
