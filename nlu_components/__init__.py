"""Project NLU components for Rasa: intent and FAQ-topic classification on sparse n-grams, without TensorFlow."""
