"""The Larkspur web chat: a dependency-free chat page and embeddable widget on Rasa's REST channel."""
